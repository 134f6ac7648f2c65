//! The client's additions to [`Error`]: the status of an error response and
//! the response itself.

use http::StatusCode;
use parking_lot::Mutex;

use super::ClientResponse;
use crate::{Error, ErrorKind};

/// What an error of kind [`Status`](ErrorKind::Status) carries.
struct StatusPayload {
    status: StatusCode,
    response: Mutex<Option<ClientResponse>>,
}

/// An error of kind `Status` for `response`: "status 404 Not Found from URL".
pub(crate) fn status_error(response: ClientResponse) -> Error {
    let status = response.status();
    let message = format!("status {status} from {}", response.url());
    Error::with_payload(
        ErrorKind::Status,
        message,
        Box::new(StatusPayload {
            status,
            response: Mutex::new(Some(response)),
        }),
    )
}

impl Error {
    /// The status of an error of kind [`Status`](ErrorKind::Status) (a
    /// client's response of 400 or more); `None` for other errors.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() {
    /// match aleph::http::get("http://127.0.0.1:8080/missing").await {
    ///     Err(e) if e.status().is_some_and(|s| s.as_u16() == 404) => println!("not there"),
    ///     Err(e) => println!("failed: {e}"),
    ///     Ok(_) => println!("found"),
    /// }
    /// # }
    /// ```
    pub fn status(&self) -> Option<StatusCode> {
        self.payload()?
            .downcast_ref::<StatusPayload>()
            .map(|payload| payload.status)
    }

    /// Takes the response out of an error of kind
    /// [`Status`](ErrorKind::Status), to read its headers and body; `None`
    /// for other errors, and once taken (the error is shared by its clones).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # async fn f() -> aleph::Result<()> {
    /// if let Err(e) = aleph::http::get("http://127.0.0.1:8080/status/500").await {
    ///     if let Some(response) = e.take_response() {
    ///         println!("{}: {}", response.status(), response.text().await?);
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn take_response(&self) -> Option<ClientResponse> {
        self.payload()?
            .downcast_ref::<StatusPayload>()?
            .response
            .lock()
            .take()
    }
}
