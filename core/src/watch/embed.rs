//! The built-in text embedder for drift detection: character 3-grams and words, hashed with signs
//! into a fixed number of dimensions (the "hashing trick"), L2-normalised. No model, no vocabulary,
//! no allocation beyond the output: good enough to see that outputs changed language, format or
//! topic; a user embedder (a sentence model) sees finer meaning.

/// FNV-1a over bytes, then a final mix so nearby n-grams spread over the dimensions.
#[inline]
fn hash(bytes: impl Iterator<Item = u8>, salt: u64) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ salt;
    for b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashingEmbedder {
    pub dim: usize,
}

impl HashingEmbedder {
    pub fn new(dim: usize) -> Self {
        Self { dim: dim.max(1) }
    }

    /// Writes the embedding of `text` into `out` (length `dim`), L2-normalised (all zeros for text
    /// with no characters).
    pub fn embed_into(&self, text: &str, out: &mut [f32]) {
        debug_assert_eq!(out.len(), self.dim);
        out.iter_mut().for_each(|v| *v = 0.0);
        let mut add = |h: u64, w: f32| {
            let i = (h % self.dim as u64) as usize;
            out[i] += if h >> 63 == 0 { w } else { -w };
        };
        // Character 3-grams over the lower-cased text, padded so short words still count.
        let lower: Vec<char> = std::iter::once(' ')
            .chain(text.chars().flat_map(char::to_lowercase))
            .chain(std::iter::once(' '))
            .collect();
        let mut buf = [0u8; 12];
        for w in lower.windows(3) {
            let mut n = 0;
            for c in w {
                n += c.encode_utf8(&mut buf[n..]).len();
            }
            add(hash(buf[..n].iter().copied(), 0), 1.0);
        }
        for word in text
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
        {
            add(
                hash(word.bytes().map(|b| b.to_ascii_lowercase()), 0x5157),
                2.0,
            );
        }
        normalize(out);
    }

    pub fn embed(&self, text: &str) -> Vec<f32> {
        let mut v = vec![0.0; self.dim];
        self.embed_into(text, &mut v);
        v
    }
}

/// Scales `v` to unit length (leaves an all-zero vector alone).
pub fn normalize(v: &mut [f32]) {
    let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if n > 0.0 && n.is_finite() {
        v.iter_mut().for_each(|x| *x /= n);
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.iter().zip(b) {
        ab += (*x as f64) * (*y as f64);
        aa += (*x as f64) * (*x as f64);
        bb += (*y as f64) * (*y as f64);
    }
    if aa == 0.0 || bb == 0.0 {
        0.0
    } else {
        ab / (aa.sqrt() * bb.sqrt())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_texts_are_closer_than_different_ones_and_vectors_are_unit() {
        let e = HashingEmbedder::new(256);
        let a = e.embed("The invoice total is 42 dollars, due Friday.");
        let b = e.embed("The invoice total is 45 dollars, due Monday.");
        let c = e.embed("{\"error\": \"rate limited\", \"retry\": true}");
        assert!((a.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(
            cosine(&a, &b) > cosine(&a, &c) + 0.3,
            "{} vs {}",
            cosine(&a, &b),
            cosine(&a, &c)
        );
        assert_eq!(a, e.embed("The invoice total is 42 dollars, due Friday."));
        assert!(e.embed("").iter().all(|x| *x == 0.0));
        assert!(e.embed("日本語のテキスト").iter().any(|x| *x != 0.0));
    }
}
