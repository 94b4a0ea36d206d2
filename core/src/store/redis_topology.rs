//! Where the Redis backend's data lives, read once from its URL: one server (`redis://`), a Redis
//! Cluster (`redis+cluster://` and seed nodes), or a master watched by Sentinels
//! (`redis+sentinel://` and the master's name). `Connector` turns the parsed form into connections;
//! the cluster client follows MOVED/ASK and a promoted replica itself, the Sentinel client asks the
//! Sentinels for the current master whenever a new connection is made.

use crate::error::{Error, Result};
use std::sync::Mutex;
use std::time::Duration;

const C: &str = "RedisBackend";

/// The accepted URL forms, for configuration errors.
pub const URL_FORMS: &str = "redis://host:port/db, redis+cluster://host:port,host:port or \
                             redis+sentinel://host:port,host:port/master_name[/db]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Topology {
    /// A single server: the URL as given.
    Single(String),
    /// Redis Cluster: a `redis://` URL per seed node (any reachable one finds the others).
    Cluster { seeds: Vec<String> },
    /// A master found through Sentinels: a `redis://` URL per Sentinel, the master's name, and the
    /// credentials and database for the master (`user:pass@` of the URL).
    Sentinel {
        sentinels: Vec<String>,
        master: String,
        db: i64,
        username: Option<String>,
        password: Option<String>,
    },
}

fn bad(url: &str, why: impl std::fmt::Display) -> Error {
    Error::out_of_range(C, "url", format!("{url:?}"), format!("{URL_FORMS} ({why})"))
}

/// `user:pass@` (kept verbatim for the node URLs) and the comma-separated `host:port` list.
fn split_hosts<'a>(url: &str, authority: &'a str) -> Result<(&'a str, Vec<&'a str>)> {
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (u, h),
        None => ("", authority),
    };
    let hosts: Vec<&str> = hosts.split(',').map(str::trim).collect();
    if hosts.iter().any(|h| h.is_empty()) {
        return Err(bad(url, "an empty host in the node list"));
    }
    for h in &hosts {
        let port = h.rsplit_once(':').map(|(_, p)| p);
        if port.is_some_and(|p| p.parse::<u16>().is_err()) {
            return Err(bad(url, format!("{h:?} has no valid port")));
        }
    }
    Ok((userinfo, hosts))
}

fn node_url(userinfo: &str, host: &str) -> String {
    let host = if host.contains(':') {
        host.to_string()
    } else {
        format!("{host}:6379")
    };
    if userinfo.is_empty() {
        format!("redis://{host}/")
    } else {
        format!("redis://{userinfo}@{host}/")
    }
}

impl Topology {
    pub fn parse(url: &str) -> Result<Self> {
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            let authority = rest.split(['/', '?']).next().unwrap_or_default();
            let (userinfo, hosts) = split_hosts(url, authority)?;
            return Ok(Topology::Cluster {
                seeds: hosts.iter().map(|h| node_url(userinfo, h)).collect(),
            });
        }
        if let Some(rest) = url.strip_prefix("redis+sentinel://") {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let (userinfo, hosts) = split_hosts(url, authority)?;
            let mut parts = path.trim_end_matches('/').split('/');
            let master = parts.next().unwrap_or_default();
            if master.is_empty() {
                return Err(bad(url, "the master's name is missing"));
            }
            let db = match parts.next() {
                None | Some("") => 0,
                Some(d) => d
                    .parse::<i64>()
                    .map_err(|_| bad(url, format!("database {d:?} is not a number")))?,
            };
            if parts.next().is_some() {
                return Err(bad(url, "too many path parts"));
            }
            let (username, password) = match userinfo.split_once(':') {
                _ if userinfo.is_empty() => (None, None),
                Some((u, p)) => ((!u.is_empty()).then(|| u.to_string()), Some(p.to_string())),
                None => (Some(userinfo.to_string()), None),
            };
            return Ok(Topology::Sentinel {
                // The Sentinels themselves are reached without the master's credentials.
                sentinels: hosts.iter().map(|h| node_url("", h)).collect(),
                master: master.to_string(),
                db,
                username,
                password,
            });
        }
        // Any other scheme is the redis client's to accept or refuse (`Connector::new`).
        Ok(Topology::Single(url.to_string()))
    }
}

/// Makes connections for a topology. Built once per backend.
pub enum Connector {
    Single(redis::Client),
    Cluster(redis::cluster::ClusterClient),
    // A lock, but taken only to make a new connection (pooled ones are reused without it): the
    // Sentinel client caches its Sentinel connections and needs `&mut` to ask them.
    Sentinel(Mutex<redis::sentinel::SentinelClient>),
}

/// One pooled connection of either kind (a cluster connection holds one per node: boxed, so the
/// pool's slots stay small).
pub enum Conn {
    Single(redis::Connection),
    Cluster(Box<redis::cluster::ClusterConnection>),
}

impl Conn {
    pub fn as_dyn(&mut self) -> &mut dyn redis::ConnectionLike {
        match self {
            Conn::Single(c) => c,
            Conn::Cluster(c) => c.as_mut(),
        }
    }

    /// Read and write timeouts of the next operation (the caller's budget, capped).
    pub fn set_timeouts(&self, t: Duration) -> redis::RedisResult<()> {
        match self {
            Conn::Single(c) => {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))
            }
            Conn::Cluster(c) => {
                c.set_read_timeout(Some(t))?;
                c.set_write_timeout(Some(t))
            }
        }
    }
}

impl Connector {
    /// Builds the client; connects nothing yet. `timeout` bounds each connect.
    pub fn new(t: &Topology, timeout: Duration) -> redis::RedisResult<Self> {
        Ok(match t {
            Topology::Single(url) => Connector::Single(redis::Client::open(url.as_str())?),
            Topology::Cluster { seeds } => {
                let ms = timeout.as_millis().max(1) as u64;
                let client =
                    redis::cluster::ClusterClientBuilder::new(seeds.iter().map(String::as_str))
                        .connection_timeout(timeout)
                        // MOVED and ASK are followed at once; a node that is down or a slot without a
                        // master is retried once after at most the operation's timeout, then given back
                        // to the backend (whose on_backend_error decides): the client's default of 16
                        // retries with waits up to minutes would block callers past their deadline.
                        .retries(2)
                        .min_retry_wait(1)
                        .max_retry_wait(ms.max(2))
                        .retry_wait_formula(1, 2)
                        .build()?;
                Connector::Cluster(client)
            }
            Topology::Sentinel {
                sentinels,
                master,
                db,
                username,
                password,
            } => {
                let mut info = redis::RedisConnectionInfo::default().set_db(*db);
                if let Some(u) = username {
                    info = info.set_username(u);
                }
                if let Some(p) = password {
                    info = info.set_password(p);
                }
                let node = redis::sentinel::SentinelNodeConnectionInfo::default()
                    .set_redis_connection_info(info);
                Connector::Sentinel(Mutex::new(redis::sentinel::SentinelClient::build(
                    sentinels.clone(),
                    master.clone(),
                    Some(node),
                    redis::sentinel::SentinelServerType::Master,
                )?))
            }
        })
    }

    pub fn mode(&self) -> &'static str {
        match self {
            Connector::Single(_) => "single",
            Connector::Cluster(_) => "cluster",
            Connector::Sentinel(_) => "sentinel",
        }
    }

    /// A new connection; for Sentinel, to whichever server the Sentinels name master now.
    pub fn connect(&self, timeout: Duration) -> redis::RedisResult<Conn> {
        match self {
            Connector::Single(c) => c.get_connection_with_timeout(timeout).map(Conn::Single),
            Connector::Cluster(c) => c.get_connection().map(|c| Conn::Cluster(Box::new(c))),
            Connector::Sentinel(s) => {
                let client = s.lock().unwrap_or_else(|p| p.into_inner()).get_client()?;
                client
                    .get_connection_with_timeout(timeout)
                    .map(Conn::Single)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_into_their_topology() {
        assert_eq!(
            Topology::parse("redis://127.0.0.1:6379/2").unwrap(),
            Topology::Single("redis://127.0.0.1:6379/2".into())
        );
        assert_eq!(
            Topology::parse("redis+cluster://127.0.0.1:7000, 127.0.0.1:7001/").unwrap(),
            Topology::Cluster {
                seeds: vec![
                    "redis://127.0.0.1:7000/".into(),
                    "redis://127.0.0.1:7001/".into()
                ]
            }
        );
        assert_eq!(
            Topology::parse("redis+cluster://:pw@h1:7000,h2").unwrap(),
            Topology::Cluster {
                seeds: vec!["redis://:pw@h1:7000/".into(), "redis://:pw@h2:6379/".into()]
            }
        );
        assert_eq!(
            Topology::parse("redis+sentinel://u:p@127.0.0.1:26379,127.0.0.1:26380/mymaster/3")
                .unwrap(),
            Topology::Sentinel {
                sentinels: vec![
                    "redis://127.0.0.1:26379/".into(),
                    "redis://127.0.0.1:26380/".into()
                ],
                master: "mymaster".into(),
                db: 3,
                username: Some("u".into()),
                password: Some("p".into()),
            }
        );
    }

    #[test]
    fn bad_urls_name_the_parameter_and_the_forms() {
        for url in [
            "redis+sentinel://127.0.0.1:26379",
            "redis+sentinel://127.0.0.1:26379/m/notanumber",
            "redis+cluster://127.0.0.1:7000,,127.0.0.1:7001",
            "redis+cluster://127.0.0.1:notaport",
        ] {
            let e = Topology::parse(url).unwrap_err().to_string();
            assert!(
                e.contains("url") && e.contains("redis+cluster://"),
                "{url}: {e}"
            );
        }
    }
}
