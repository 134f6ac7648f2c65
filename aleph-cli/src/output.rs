//! Writing for people, on a stdout and stderr that may be closed or full.
//!
//! `println!` and `eprintln!` panic when a write fails, and a write fails as
//! soon as the reader of a pipe has gone (`aleph demo | head -1`). Everything
//! the command prints goes through here instead, and a failed write is an
//! answer, never a panic.

use std::error::Error;
use std::io::{self, Write};

/// Writes `line` and a newline to stdout and flushes it; false if stdout
/// cannot take it (its reader went away, or the disk is full).
pub fn say(line: &str) -> bool {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .is_ok()
}

/// Writes `aleph: line` to stderr; a stderr that cannot take it is ignored,
/// as there is nowhere left to tell.
pub fn note(line: &str) {
    let mut stderr = io::stderr().lock();
    let _ = writeln!(stderr, "aleph: {line}").and_then(|()| stderr.flush());
}

/// Writes the help text to stdout, as `--help` does.
pub fn help(text: &str) {
    let mut stdout = io::stdout().lock();
    let _ = stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush());
}

/// Reports a runtime failure: one line on stderr naming what failed and why.
pub fn failure(err: &(dyn Error + 'static)) {
    let mut line = chain(err);
    if let Some(hint) = hint(err) {
        line.push_str("; ");
        line.push_str(hint);
    }
    note(&line);
}

/// True when a write failed because its reader went away: the consumer of a
/// pipe or socket closed it, which ends a command quietly, as nc and curl do.
pub fn reader_gone(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// An error and its causes on one line: "what failed: why: why deeper".
/// aleph's messages say what failed and leave the why to their sources, so
/// nothing is said twice.
pub fn chain(err: &(dyn Error + 'static)) -> String {
    let mut line = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        line.push_str(": ");
        line.push_str(&cause.to_string());
        source = cause.source();
    }
    line
}

/// What to do about a failure, when the command knows: a server certificate
/// that nothing trusted vouches for can be trusted; any refused one can (for
/// tests) go unchecked.
fn hint(err: &(dyn Error + 'static)) -> Option<&'static str> {
    let mut source = Some(err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<aleph::tls::CertificateRefused>() {
            // Trusting a certificate made for another name, expired or
            // signed with a refused algorithm changes nothing.
            return Some(if refused.is_untrusted() {
                "to trust the server's certificate, give it with --cacert FILE; to skip \
                 verification (for testing only), use --insecure"
            } else {
                "to skip verification (for testing only), use --insecure"
            });
        }
        source = cause.source();
    }
    None
}
