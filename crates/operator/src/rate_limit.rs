//! Client-side rate limiting of Kubernetes API requests (`--kube-api-qps`, `--kube-api-burst`), as
//! client-go's token bucket does for KEDA: up to `burst` requests at once, refilled at `qps` per
//! second. A request waits in `poll_ready` until it holds a token, so callers queue instead of failing.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep};
use tower::{Layer, Service};

/// A token bucket shared by every clone of the limited service.
#[derive(Debug)]
struct Bucket {
    qps: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.qps).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.qps))
        }
    }
}

/// The layer; `qps <= 0` means unlimited.
#[derive(Debug, Clone)]
pub struct RateLimitLayer {
    bucket: Option<Arc<Mutex<Bucket>>>,
}

impl RateLimitLayer {
    /// At most `burst` requests at once, `qps` per second on average.
    pub fn new(qps: f32, burst: u32) -> RateLimitLayer {
        let qps = f64::from(qps);
        let burst = f64::from(burst.max(1));
        let bucket = (qps > 0.0).then(|| {
            Arc::new(Mutex::new(Bucket {
                qps,
                burst,
                tokens: burst,
                at: Instant::now(),
            }))
        });
        RateLimitLayer { bucket }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimited<S>;

    fn layer(&self, inner: S) -> RateLimited<S> {
        RateLimited {
            inner,
            bucket: self.bucket.clone(),
            sleep: None,
            holding: false,
        }
    }
}

/// A service whose calls each take a token first.
pub struct RateLimited<S> {
    inner: S,
    bucket: Option<Arc<Mutex<Bucket>>>,
    sleep: Option<Pin<Box<Sleep>>>,
    holding: bool,
}

impl<S> std::fmt::Debug for RateLimited<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimited")
            .field("holding", &self.holding)
            .finish_non_exhaustive()
    }
}

impl<S, R> Service<R> for RateLimited<S>
where
    S: Service<R>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        if let Some(bucket) = &self.bucket {
            while !self.holding {
                if let Some(sleep) = self.sleep.as_mut() {
                    ready!(sleep.as_mut().poll(cx));
                    self.sleep = None;
                }
                let taken = bucket
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take(Instant::now());
                match taken {
                    Ok(()) => self.holding = true,
                    Err(wait) => self.sleep = Some(Box::pin(tokio::time::sleep(wait))),
                }
            }
        }
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> S::Future {
        self.holding = false;
        self.inner.call(request)
    }
}

/// A client for `config` whose requests are limited to `qps`/`burst`.
pub fn client(config: kube::Config, qps: f32, burst: u32) -> Result<kube::Client, kube::Error> {
    let builder = kube::client::ClientBuilder::try_from(config)?;
    Ok(builder
        .with_layer(&RateLimitLayer::new(qps, burst))
        .build::<Box<kube::client::DynBody>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    async fn send_all(layer: &RateLimitLayer, n: usize) -> Vec<Duration> {
        let start = Instant::now();
        let mut svc = layer.layer(tower::service_fn(|_: ()| async {
            Ok::<_, std::convert::Infallible>(Instant::now())
        }));
        let mut at = Vec::new();
        for _ in 0..n {
            let t = svc.ready().await.unwrap().call(()).await.unwrap();
            at.push(t - start);
        }
        at
    }

    #[tokio::test(start_paused = true)]
    async fn burst_goes_at_once_then_qps_paces() {
        let at = send_all(&RateLimitLayer::new(10.0, 3), 6).await;
        let ms: Vec<u128> = at.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 0, 0, 100, 200, 300]);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_qps_is_unlimited() {
        let at = send_all(&RateLimitLayer::new(0.0, 1), 50).await;
        assert!(at.iter().all(|d| d.is_zero()));
    }
}
