//! [`Params`]: name / value pairs decoded from a query string, a form or
//! cookies, in order, repeats kept.

/// Name / value pairs, in the order they came, repeated names kept (Ring's
/// `wrap-params` keeps a repeated key's every value too).
///
/// # Examples
///
/// ```
/// let req = http::Request::get("/?a=1&b=2&a=3").body(aleph::http::Body::empty()).unwrap();
/// let params = aleph::http::Request::from(req).query_params();
/// assert_eq!(params.get("a"), Some("1")); // the first
/// assert_eq!(params.get_all("a"), ["1", "3"]);
/// assert_eq!(params.len(), 3);
/// let pairs: Vec<(&str, &str)> = params.iter().collect();
/// assert_eq!(pairs, [("a", "1"), ("b", "2"), ("a", "3")]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `application/x-www-form-urlencoded` bytes (`+` is a space,
    /// `%XX` a byte; invalid UTF-8 is replaced).
    pub(crate) fn parse_urlencoded(input: &[u8]) -> Params {
        Params {
            pairs: form_urlencoded::parse(input)
                .map(|(name, value)| (name.into_owned(), value.into_owned()))
                .collect(),
        }
    }

    /// The pairs of `Cookie` header values.
    pub(crate) fn parse_cookies<'a>(headers: impl Iterator<Item = &'a str>) -> Params {
        let mut pairs = Vec::new();
        for header in headers {
            for pair in header.split(';') {
                let Some((name, value)) = pair.split_once('=') else {
                    continue;
                };
                let name = name.trim();
                if name.is_empty() {
                    continue;
                }
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                pairs.push((name.to_owned(), value.to_owned()));
            }
        }
        Params { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every pair, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// How many pairs there are.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// The pairs themselves.
    pub fn into_vec(self) -> Vec<(String, String)> {
        self.pairs
    }
}

#[cfg(test)]
mod tests {
    use super::Params;

    #[test]
    fn urlencoded_pairs_keep_order_and_repeats() {
        let params = Params::parse_urlencoded(b"a=1&b=&a=x+y&c&d=%26");
        let pairs: Vec<_> = params.iter().collect();
        assert_eq!(
            pairs,
            [("a", "1"), ("b", ""), ("a", "x y"), ("c", ""), ("d", "&")]
        );
    }

    #[test]
    fn cookies_split_on_semicolons_across_headers() {
        let params = Params::parse_cookies(["a=1; b=\"two\"", "junk; =x; a=3"].into_iter());
        let pairs: Vec<_> = params.iter().collect();
        assert_eq!(pairs, [("a", "1"), ("b", "two"), ("a", "3")]);
    }
}
