//! Argument types the subcommands share: HOST:PORT, an address to listen on,
//! and durations in seconds. Each parses as a clap value parser, so a bad one
//! is a usage error (exit status 2) with clap's full message.

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

/// Where a client connects or sends: a host (a name or an IP address) and a port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The host as written, without brackets.
    pub host: String,
    /// A port from 1 to 65535.
    pub port: u16,
}

impl Target {
    /// The host as the library takes it: an IPv6 address in brackets, so
    /// that its messages show `[::1]:10001`, not `::1:10001`.
    pub fn library_host(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.library_host(), self.port)
    }
}

/// Parses `HOST:PORT` and `[IPV6]:PORT`.
pub fn target(text: &str) -> Result<Target, String> {
    if text.is_empty() {
        return Err("an empty address: write HOST:PORT".to_owned());
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("'{text}' has no closing ']'"))?;
        match after.strip_prefix(':') {
            Some(port) => (host, port),
            None if after.is_empty() => {
                return Err(format!("'{text}' has no port: write [{host}]:PORT"));
            }
            None => return Err(format!("'{after}' after [{host}] is not ':PORT'")),
        }
    } else if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Err(format!(
            "'{text}' is an IPv6 address without a port: write [{text}]:PORT"
        ));
    } else if text.matches(':').count() > 1 {
        return Err(format!(
            "'{text}' is ambiguous: write an IPv6 address in brackets, as [ADDRESS]:PORT"
        ));
    } else {
        text.rsplit_once(':')
            .ok_or_else(|| format!("'{text}' has no port: write {text}:PORT"))?
    };
    if host.is_empty() {
        return Err(format!("'{text}' has no host"));
    }
    if host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!(
            "'{host}' is not a host name: it holds a space or a control character"
        ));
    }
    if port.is_empty() {
        return Err(format!("'{text}' has no port after the ':'"));
    }
    if text.starts_with('[') && host.parse::<std::net::Ipv6Addr>().is_err() {
        return Err(format!("'{host}' in brackets is not an IPv6 address"));
    }
    let port = match port.parse::<u16>() {
        Ok(port) if port != 0 => port,
        _ => return Err(format!("'{port}' is not a port number (1 to 65535)")),
    };
    Ok(Target {
        host: host.to_owned(),
        port,
    })
}

/// Parses an IP address to listen on: IPv4, or IPv6 with or without brackets.
pub fn listen_host(text: &str) -> Result<IpAddr, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    bare.parse().map_err(|_| {
        format!("'{text}' is not an IP address (such as 127.0.0.1, 0.0.0.0, ::1 or ::)")
    })
}

/// Parses a duration in seconds, fractions allowed: `5`, `1.5`, `0.25`.
pub fn seconds(text: &str) -> Result<Duration, String> {
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds (such as 5 or 1.5)"))?;
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!(
            "'{text}' is not a number of seconds: it must be 0 or more"
        ));
    }
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("'{text}' seconds is longer than this command can wait"))
}

/// As [`seconds`], but more than zero.
pub fn positive_seconds(text: &str) -> Result<Duration, String> {
    let duration = seconds(text)?;
    if duration.is_zero() {
        return Err(format!("'{text}' seconds: it must be more than 0"));
    }
    Ok(duration)
}

/// A duration as people write it: `5s`, `1.5s`, `250ms`, `0s`.
pub fn show(duration: Duration) -> String {
    if duration.is_zero() {
        "0s".to_owned()
    } else {
        format!("{duration:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_with_names_ipv4_and_ipv6() {
        let t = |host: &str, port| Target {
            host: host.into(),
            port,
        };
        assert_eq!(target("localhost:80"), Ok(t("localhost", 80)));
        assert_eq!(target("127.0.0.1:10001"), Ok(t("127.0.0.1", 10001)));
        assert_eq!(target("[::1]:9"), Ok(t("::1", 9)));
        assert_eq!(target("[::1]:9").unwrap().to_string(), "[::1]:9");
        assert_eq!(target("[::1]:9").unwrap().library_host(), "[::1]");
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        let err = |text| target(text).unwrap_err();
        assert!(err("nohost").contains("no port: write nohost:PORT"));
        assert!(err("h:99999").contains("not a port number"));
        assert!(err("h:0").contains("not a port number"));
        assert!(err(":80").contains("no host"));
        assert!(err("").contains("empty"));
        assert!(err("host:").contains("no port after"));
        assert!(err("[::1]:").contains("no port after"));
        assert!(err(" host:80").contains("a space"));
        assert!(err("[::1]").contains("no port: write [::1]:PORT"));
        assert!(err("::1").contains("write [::1]:PORT"));
        assert!(err("host:1:80").contains("brackets"));
        assert!(err("::1:80").contains("write [::1:80]:PORT"));
        assert!(err("[::1").contains("closing"));
        assert!(err("[::1]80").contains("not ':PORT'"));
        assert!(err("[localhost]:80").contains("not an IPv6 address"));
    }

    #[test]
    fn durations_take_fractions_and_refuse_the_rest() {
        assert_eq!(seconds("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(seconds("5"), Ok(Duration::from_secs(5)));
        assert_eq!(seconds("0"), Ok(Duration::ZERO));
        for bad in ["-1", "NaN", "inf", "five", "", "1e300"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert!(positive_seconds("0").is_err());
        assert_eq!(show(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show(Duration::ZERO), "0s");
    }

    #[test]
    fn listen_hosts_take_both_families() {
        assert_eq!(listen_host("::1"), Ok("::1".parse().unwrap()));
        assert_eq!(listen_host("[::]"), Ok("::".parse().unwrap()));
        assert_eq!(listen_host("0.0.0.0"), Ok("0.0.0.0".parse().unwrap()));
        assert!(listen_host("localhost").is_err());
    }
}
