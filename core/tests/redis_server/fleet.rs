//! Throwaway Redis fleets on loopback for the cluster and Sentinel tests: a 3-master, 3-replica Redis
//! Cluster (`redis-server --cluster-enabled yes` and `redis-cli --cluster create`), and a master, a
//! replica and three Sentinels (`redis-server --sentinel`). Timeouts are set low (500 ms) so a killed
//! master is replaced in a second or two. Everything is stopped and removed on drop.
#![allow(dead_code)] // each test file uses part of it

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A loopback port that is free, and whose cluster bus port (+10000) is free too.
fn free_port() -> u16 {
    loop {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let p = l.local_addr().unwrap().port();
        if p < 55_000 && std::net::TcpListener::bind(("127.0.0.1", p + 10_000)).is_ok() {
            return p;
        }
    }
}

fn wait_listening(port: u16) {
    let t0 = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "redis-server on {port} did not start"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn query<T: redis::FromRedisValue>(port: u16, cmd: &redis::Cmd) -> redis::RedisResult<T> {
    let c = redis::Client::open(format!("redis://127.0.0.1:{port}/"))?;
    let mut conn = c.get_connection_with_timeout(Duration::from_millis(500))?;
    conn.set_read_timeout(Some(Duration::from_secs(2)))?;
    cmd.query(&mut conn)
}

fn info(port: u16, section: &str) -> String {
    query::<String>(port, redis::cmd("INFO").arg(section)).unwrap_or_default()
}

fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !ok() {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

struct Node {
    port: u16,
    child: Option<Child>,
}

impl Node {
    fn spawn(dir: &std::path::Path, port: u16, args: &[&str]) -> Self {
        let mut cmd = Command::new("redis-server");
        cmd.args(args)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // Killed with the test thread that started it, even when the test binary is killed (a
        // timeout) and no destructor runs.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .expect("redis-server not found: `make tools-redis` installs it");
        wait_listening(port);
        Self {
            port,
            child: Some(child),
        }
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn scratch(kind: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "ferrule-{kind}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Three masters and three replicas on loopback.
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: std::path::PathBuf,
}

impl RedisCluster {
    pub fn start() -> Self {
        let dir = scratch("cluster");
        let mut nodes = Vec::new();
        for _ in 0..6 {
            let port = free_port();
            let conf = format!("nodes-{port}.conf");
            nodes.push(Node::spawn(
                &dir,
                port,
                &[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    &conf,
                    "--cluster-node-timeout",
                    "500",
                    // A replica takes over however long it was cut off: the tests kill masters.
                    "--cluster-replica-validity-factor",
                    "0",
                ],
            ));
        }
        let addrs: Vec<String> = nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addrs)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("redis-cli not found: `make tools-redis` installs it");
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let c = Self { nodes, dir };
        c.wait_healthy(Duration::from_secs(20));
        c
    }

    /// Every live node sees the cluster ok, and every master has a synced replica.
    pub fn wait_healthy(&self, limit: Duration) {
        wait_for("cluster_state:ok and synced replicas", limit, || {
            self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                let ci = query::<String>(n.port, &redis::cmd("CLUSTER").arg("INFO").clone())
                    .unwrap_or_default();
                if field(&ci, "cluster_state") != Some("ok") {
                    return false;
                }
                let rep = info(n.port, "replication");
                match field(&rep, "role") {
                    Some("master") => field(&rep, "connected_slaves").is_some_and(|s| s != "0"),
                    Some("slave") => field(&rep, "master_link_status") == Some("up"),
                    _ => false,
                }
            })
        });
    }

    /// Only the cluster state: after a master is killed its replica has no replica of its own.
    pub fn wait_ok(&self, limit: Duration) {
        wait_for("cluster_state:ok", limit, || {
            self.nodes.iter().filter(|n| n.child.is_some()).all(|n| {
                let ci = query::<String>(n.port, &redis::cmd("CLUSTER").arg("INFO").clone())
                    .unwrap_or_default();
                field(&ci, "cluster_state") == Some("ok")
            })
        });
    }

    /// `redis+cluster://` with every node as a seed.
    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+cluster://{}", hosts.join(","))
    }

    /// The port of the master serving `key`'s slot now.
    pub fn master_of(&self, key: &str) -> u16 {
        let live = self.nodes.iter().find(|n| n.child.is_some()).unwrap().port;
        let slot: i64 = query(live, redis::cmd("CLUSTER").arg("KEYSLOT").arg(key)).unwrap();
        // Each entry: [first slot, last slot, [ip, port, id] of the master, replicas...].
        let slots: Vec<Vec<redis::Value>> =
            query(live, redis::cmd("CLUSTER").arg("SLOTS")).unwrap();
        let int = |v: Option<&redis::Value>| match v {
            Some(redis::Value::Int(i)) => Some(*i),
            _ => None,
        };
        for e in slots {
            let (Some(lo), Some(hi)) = (int(e.first()), int(e.get(1))) else {
                continue;
            };
            if (lo..=hi).contains(&slot) {
                if let Some(redis::Value::Array(m)) = e.get(2) {
                    if let Some(p) = int(m.get(1)) {
                        return p as u16;
                    }
                }
            }
        }
        panic!("no master serves slot {slot}");
    }

    /// Kills the server on `port` (SIGKILL: no goodbye to the cluster).
    pub fn kill(&mut self, port: u16) {
        self.nodes
            .iter_mut()
            .find(|n| n.port == port)
            .expect("a node of this cluster")
            .kill();
    }

    pub fn ports(&self) -> Vec<u16> {
        self.nodes.iter().map(|n| n.port).collect()
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub const SENTINEL_MASTER: &str = "fleet";

/// A master, its replica, and three Sentinels watching them (quorum 2).
pub struct RedisSentinels {
    master: Node,
    replica: Node,
    sentinels: Vec<Node>,
    dir: std::path::PathBuf,
}

impl RedisSentinels {
    pub fn start() -> Self {
        let dir = scratch("sentinel");
        let mport = free_port();
        let master = Node::spawn(&dir, mport, &[]);
        let rport = free_port();
        let replica = Node::spawn(
            &dir,
            rport,
            &["--replicaof", "127.0.0.1", &mport.to_string()],
        );
        let mut sentinels = Vec::new();
        for _ in 0..3 {
            let port = free_port();
            // Sentinel rewrites its configuration file: each gets its own.
            let conf = dir.join(format!("sentinel-{port}.conf"));
            std::fs::write(
                &conf,
                format!(
                    "sentinel monitor {SENTINEL_MASTER} 127.0.0.1 {mport} 2\n\
                     sentinel down-after-milliseconds {SENTINEL_MASTER} 500\n\
                     sentinel failover-timeout {SENTINEL_MASTER} 2000\n\
                     sentinel parallel-syncs {SENTINEL_MASTER} 1\n"
                ),
            )
            .unwrap();
            let conf = conf.to_string_lossy().into_owned();
            sentinels.push(Node::spawn(&dir, port, &[conf.as_str(), "--sentinel"]));
        }
        let s = Self {
            master,
            replica,
            sentinels,
            dir,
        };
        wait_for("replica in sync", Duration::from_secs(20), || {
            field(&info(rport, "replication"), "master_link_status") == Some("up")
        });
        // Every Sentinel knows the replica and the other Sentinels before a failover is asked of them.
        wait_for(
            "sentinels discover each other",
            Duration::from_secs(20),
            || {
                s.sentinels.iter().all(|n| {
                    let m: Vec<String> = query(
                        n.port,
                        redis::cmd("SENTINEL").arg("MASTER").arg(SENTINEL_MASTER),
                    )
                    .unwrap_or_default();
                    let get = |k: &str| {
                        m.iter()
                            .position(|x| x == k)
                            .and_then(|i| m.get(i + 1))
                            .cloned()
                            .unwrap_or_default()
                    };
                    get("num-slaves") == "1" && get("num-other-sentinels") == "2"
                })
            },
        );
        s
    }

    pub fn url(&self) -> String {
        let hosts: Vec<String> = self
            .sentinels
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        format!("redis+sentinel://{}/{SENTINEL_MASTER}", hosts.join(","))
    }

    pub fn master_port(&self) -> u16 {
        self.master.port
    }

    pub fn replica_port(&self) -> u16 {
        self.replica.port
    }

    /// Kills the master (SIGKILL).
    pub fn kill_master(&mut self) {
        self.master.kill();
    }

    /// Waits until the Sentinels name the replica as master.
    pub fn wait_promoted(&self, limit: Duration) {
        let want = self.replica.port.to_string();
        wait_for("the replica promoted", limit, || {
            let addr: Vec<String> = query(
                self.sentinels[0].port,
                redis::cmd("SENTINEL")
                    .arg("GET-MASTER-ADDR-BY-NAME")
                    .arg(SENTINEL_MASTER),
            )
            .unwrap_or_default();
            addr.get(1) == Some(&want)
                && field(&info(self.replica.port, "replication"), "role") == Some("master")
        });
    }
}

impl Drop for RedisSentinels {
    fn drop(&mut self) {
        for n in &mut self.sentinels {
            n.kill();
        }
        self.replica.kill();
        self.master.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
