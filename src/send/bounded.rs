//! A connection that refuses to hold an endless reply in memory.
//!
//! lettre reads a server's reply a line at a time and checks the line's length only once its
//! line end has come, so a server (or anyone on the path before STARTTLS) that sends `220 ` and
//! then bytes without a line end would have them all kept until the timeout: gigabytes within
//! seconds. This stream sits under lettre and ends the connection at once instead:
//!
//! - in the clear, when a reply line grows past [`MAX_LINE`] bytes, or a reply (everything read
//!   since lettermerge last wrote) past [`MAX_REPLY`];
//! - once encrypted (STARTTLS, or implicit TLS from the first byte: [`implicit_tls`]), where
//!   lines cannot be seen, when more than [`MAX_ENCRYPTED`] bytes come without lettermerge
//!   writing anything: room for a TLS handshake's certificates, far below anything that could
//!   hurt.
//!
//! Memory stays bounded whatever the server does; a server that drips bytes slowly is ended by
//! the timeout every command already has.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use lettre::transport::smtp::client::AsyncTokioStream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The longest reply line taken in the clear, its CR included. RFC 5321 allows 512 octets;
/// servers' EHLO lines are far shorter.
pub const MAX_LINE: usize = 4096;

/// The most bytes of replies taken in the clear between two writes: a pipelined group's answers
/// for a letter with a hundred cc and a long EHLO fit many times over. Below lettre's own limit
/// (100,000), which it checks only after parsing the reply again at each line.
pub const MAX_REPLY: usize = 32 * 1024;

/// The most bytes taken once encrypted between two writes: a TLS handshake's certificates fit.
pub const MAX_ENCRYPTED: usize = 512 * 1024;

/// What the error says, as the summary shows it.
pub const TOO_LONG: &str = "the server's reply is too long (it sent more than a reply can be \
     without ending it); the connection was closed";

/// A TCP stream that counts what it reads; see the module's documentation.
pub struct Bounded {
    inner: TcpStream,
    /// Bytes read since the last line end, in the clear.
    line: usize,
    /// Bytes read since the last write.
    since_write: usize,
    /// Set when TLS starts on this stream (STARTTLS): lines are no longer visible.
    encrypted: Arc<AtomicBool>,
}

impl Bounded {
    /// The stream, and the switch to flip just before STARTTLS.
    pub fn new(inner: TcpStream) -> (Bounded, Arc<AtomicBool>) {
        let encrypted = Arc::new(AtomicBool::new(false));
        let stream = Bounded {
            inner,
            line: 0,
            since_write: 0,
            encrypted: Arc::clone(&encrypted),
        };
        (stream, encrypted)
    }

    /// Counts bytes just read; an error when they pass a bound.
    fn count(&mut self, read: &[u8]) -> io::Result<()> {
        self.since_write += read.len();
        if self.encrypted.load(Ordering::Relaxed) {
            return match self.since_write > MAX_ENCRYPTED {
                true => Err(too_long()),
                false => Ok(()),
            };
        }
        let mut rest = read;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            if self.line + at > MAX_LINE {
                return Err(too_long());
            }
            self.line = 0;
            rest = &rest[at + 1..];
        }
        self.line += rest.len();
        if self.line > MAX_LINE || self.since_write > MAX_REPLY {
            return Err(too_long());
        }
        Ok(())
    }
}

/// Implicit TLS (port 465) on `tcp`, bounded like the rest: lettre's own TLS layer (its roots
/// and the campaign's `ca_file`) over a [`Bounded`] stream counting from the first byte, handed
/// back as a stream lettre speaks SMTP over. lettre would otherwise open this connection itself,
/// with nothing under its reader.
pub async fn implicit_tls(
    tcp: TcpStream,
    tls: lettre::transport::smtp::client::TlsParameters,
) -> Result<Encrypted, lettre::transport::smtp::Error> {
    use tokio_util::compat::FuturesAsyncReadCompatExt;
    let peer = tcp.peer_addr().ok();
    let (stream, encrypted) = Bounded::new(tcp);
    encrypted.store(true, Ordering::Relaxed);
    // The one way lettre offers to put its TLS layer over a stream of ours.
    #[allow(deprecated)]
    let mut network =
        lettre::transport::smtp::client::AsyncNetworkStream::use_existing_tokio1(Box::new(stream));
    network.upgrade_tls(tls).await?;
    Ok(Encrypted {
        inner: network.compat(),
        peer,
    })
}

/// A TLS stream made by [`implicit_tls`].
pub struct Encrypted {
    #[allow(deprecated)]
    inner: tokio_util::compat::Compat<lettre::transport::smtp::client::AsyncNetworkStream>,
    peer: Option<SocketAddr>,
}

impl AsyncRead for Encrypted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Encrypted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl fmt::Debug for Encrypted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encrypted")
            .field("peer", &self.peer)
            .finish()
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.peer
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "no peer address"))
    }
}

fn too_long() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, TOO_LONG)
}

impl AsyncRead for Bounded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled {
            self.count(&buf.filled()[before..])?;
        }
        polled
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            if n > 0 {
                self.since_write = 0;
            }
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl fmt::Debug for Bounded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bounded")
            .field("line", &self.line)
            .field("since_write", &self.since_write)
            .finish()
    }
}

impl AsyncTokioStream for Bounded {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn pair() -> (Bounded, Arc<AtomicBool>, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (client, server) = tokio::join!(TcpStream::connect(addr), listener.accept());
        let (bounded, encrypted) = Bounded::new(client.unwrap());
        (bounded, encrypted, server.unwrap().0)
    }

    #[test]
    fn lines_and_replies_in_the_clear_are_bounded_and_a_write_starts_afresh() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let (mut b, _, _server) = pair().await;
                let line = vec![b'a'; MAX_LINE - 1];
                assert!(b.count(&line).is_ok(), "a line of MAX_LINE bytes is fine");
                assert!(b.count(b"\r\n250 ok\r\n").is_ok());
                assert!(b.count(&line).is_ok());
                assert!(b.count(b"bc").is_err(), "one byte more than a line may be");
                let (mut b, _, _server) = pair().await;
                let short = [b"250-x\r\n".as_slice(); 1000].concat();
                for _ in 0..(MAX_REPLY / short.len()) {
                    b.count(&short).unwrap();
                }
                assert!(b.count(&short).is_err(), "an endless multi-line reply ends");
                b.since_write = 0;
                assert!(b.count(&short).is_ok(), "after a write it starts afresh");
            });
    }

    #[test]
    fn once_encrypted_only_the_bytes_between_writes_count() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let (mut b, encrypted, _server) = pair().await;
                encrypted.store(true, Ordering::Relaxed);
                let noise = vec![b'x'; MAX_LINE * 4];
                let mut read = 0;
                while read + noise.len() <= MAX_ENCRYPTED {
                    b.count(&noise).unwrap();
                    read += noise.len();
                }
                assert!(b.count(&noise).is_err());
            });
    }
}
