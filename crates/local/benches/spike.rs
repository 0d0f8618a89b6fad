//! The seed's spike (issue #12): events produced at a fixed rate into a real broker (a Redis stream,
//! then a RabbitMQ queue), consumed by local-mode workers that Ebb scales with a ScaledObject
//! (redis-streams `lagCount`, rabbitmq `QueueLength`). Printed per broker: the producer rate
//! achieved, the backlog and replicas over time, the peak backlog, how long the backlog took to
//! drain after the producer stopped, when the workers scaled in after the cooldown, the CPU and
//! peak RSS of the Ebb process alone (from /proc, workers excluded), and produced = consumed.
//!
//! This binary plays three roles. Run by cargo it is the driver: producer and sampler. It starts Ebb
//! as a separate process — `$EBB_BIN run -f <dir> --plain` when `EBB_BIN` names an `ebb` binary,
//! else itself as `spike-supervise`, which drives `ebb_local::run` exactly as `ebb run` does (a
//! current-thread runtime, plain lines, SIGTERM to stop) — so /proc of that process is Ebb's cost.
//! The workers Ebb starts are this binary again as `spike-worker`: each takes events in batches of
//! 500 and handles at most `EBB_SPIKE_WORKER_RATE` of them per second (the simulated work is a sleep,
//! so worker CPU stays small), acknowledging each batch together with a consumed-counter increment
//! in Redis (one MULTI for streams); on SIGTERM it finishes its batch and exits.
//!
//! `cargo bench -p ebb-local --bench spike` (needs Redis ≥ 7 and RabbitMQ: `scripts/services
//! start`). Knobs: `EBB_SPIKE_EVENTS_PER_MIN` (5,000,000), `EBB_SPIKE_SECONDS` (120),
//! `EBB_SPIKE_BROKERS` (`redis,rabbitmq`), `EBB_SPIKE_WORKER_RATE` (5,000 events/s per worker),
//! `EBB_SPIKE_MAX_REPLICAS` (20), `EBB_SPIKE_TARGET` (backlog per replica, 10 s of one worker's work),
//! `EBB_SPIKE_COOLDOWN` (30 s; also the scale-down stabilization window), `EBB_SPIKE_HPA_SYNC` (15 s,
//! Kubernetes' default), `EBB_SPIKE_PRODUCERS` (2 connections), `EBB_BIN`.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use serde_json::json;

type Result<T> = std::result::Result<T, Box<dyn Error + Send + Sync>>;

/// Events a worker takes at once (XREADGROUP COUNT; acknowledgements per AMQP batch).
const BATCH: usize = 500;
/// Events per producer pipeline (XADDs per round trip; publishes awaited together).
const PRODUCE_BATCH: u64 = 1000;
/// /proc reports CPU time in USER_HZ, which Linux fixes at 100 on every architecture Ebb targets.
const USER_HZ: f64 = 100.0;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("spike-worker") => worker_main(&args[2..]),
        Some("spike-supervise") => supervise_main(&args[2..]),
        _ => driver_main(),
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[derive(Clone)]
struct Config {
    events_per_min: u64,
    seconds: u64,
    brokers: Vec<String>,
    worker_rate: u64,
    max_replicas: u64,
    target: u64,
    cooldown: u64,
    hpa_sync: u64,
    producers: u64,
    redis_url: String,
    redis_addr: String,
    amqp_url: String,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace(['_', ','], "").parse().ok())
        .unwrap_or(default)
}

/// A variable from the environment, else from /tmp/ebb-services/env.sh (`scripts/services env`).
fn service_env(name: &str, default: &str) -> String {
    if let Ok(v) = std::env::var(name) {
        return v;
    }
    let prefix = format!("export {name}=");
    std::fs::read_to_string("/tmp/ebb-services/env.sh")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix(prefix.as_str()))
        .map(|v| v.trim_matches('\'').trim_matches('"').to_owned())
        .next()
        .unwrap_or_else(|| default.to_owned())
}

impl Config {
    fn from_env() -> Config {
        let worker_rate = env_u64("EBB_SPIKE_WORKER_RATE", 5_000).max(1);
        Config {
            events_per_min: env_u64("EBB_SPIKE_EVENTS_PER_MIN", 5_000_000),
            seconds: env_u64("EBB_SPIKE_SECONDS", 120).max(1),
            brokers: std::env::var("EBB_SPIKE_BROKERS")
                .unwrap_or_else(|_| "redis,rabbitmq".into())
                .split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect(),
            worker_rate,
            max_replicas: env_u64("EBB_SPIKE_MAX_REPLICAS", 20).max(1),
            target: env_u64("EBB_SPIKE_TARGET", worker_rate * 10).max(1),
            cooldown: env_u64("EBB_SPIKE_COOLDOWN", 30),
            hpa_sync: env_u64("EBB_SPIKE_HPA_SYNC", 15).max(1),
            producers: env_u64("EBB_SPIKE_PRODUCERS", 2).max(1),
            redis_url: service_env("EBB_REDIS_URL", "redis://127.0.0.1:6379"),
            redis_addr: service_env("EBB_REDIS_ADDR", "127.0.0.1:6379"),
            amqp_url: service_env(
                "EBB_RABBITMQ_AMQP_URL",
                "amqp://guest:guest@127.0.0.1:5672/%2f",
            ),
        }
    }

    fn rate_per_sec(&self) -> f64 {
        self.events_per_min as f64 / 60.0
    }
}

// ---------------------------------------------------------------------------------------------
// Driver

fn driver_main() -> Result<()> {
    let config = Config::from_env();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    println!(
        "spike: {} events/min ({:.0} events/s) for {} s per broker; worker capacity {} events/s, maxReplicaCount {}, target backlog {} per replica, cooldown {} s, HPA sync {} s; {} cores",
        config.events_per_min,
        config.rate_per_sec(),
        config.seconds,
        config.worker_rate,
        config.max_replicas,
        config.target,
        config.cooldown,
        config.hpa_sync,
        std::thread::available_parallelism().map_or(0, |n| n.get()),
    );
    let mut failed = false;
    for broker in config.brokers.clone() {
        let kind = match broker.as_str() {
            "redis" | "redis-streams" => Broker::Redis,
            "rabbitmq" | "amqp" => Broker::Rabbit,
            other => {
                println!("spike {other}: FAILED: unknown broker (redis, rabbitmq)");
                failed = true;
                continue;
            }
        };
        if let Err(e) = runtime.block_on(spike(&config, kind)) {
            println!("spike {}: FAILED: {e}", kind.name());
            failed = true;
        }
    }
    if failed {
        return Err("a spike run failed".into());
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Broker {
    Redis,
    Rabbit,
}

impl Broker {
    fn name(self) -> &'static str {
        match self {
            Broker::Redis => "redis-streams",
            Broker::Rabbit => "rabbitmq",
        }
    }
}

struct Sample {
    t: f64,
    produced: u64,
    consumed: u64,
    replicas: usize,
    cpu: f64,
    rss_mib: f64,
}

async fn spike(config: &Config, broker: Broker) -> Result<()> {
    let run = format!("ebb-spike-{}-{}", std::process::id(), broker.name());
    let counter = format!("{run}:consumed");
    // Kept after the run: Ebb's log and each replica's log, for a second look.
    let dir = std::env::temp_dir().join(&run);
    std::fs::create_dir_all(&dir)?;
    let mut redis = redis_conn(&config.redis_url).await?;
    let _: () = redis::cmd("DEL")
        .arg(&run)
        .arg(&counter)
        .query_async(&mut redis)
        .await?;

    // The broker's side: an empty stream with its consumer group, or an empty queue.
    let amqp = match broker {
        Broker::Redis => {
            let _: () = redis::cmd("XGROUP")
                .arg("CREATE")
                .arg(&run)
                .arg("workers")
                .arg("$")
                .arg("MKSTREAM")
                .query_async(&mut redis)
                .await?;
            None
        }
        Broker::Rabbit => {
            let conn =
                Connection::connect(&config.amqp_url, ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            channel
                .queue_declare(
                    run.as_str().into(),
                    QueueDeclareOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            Some((conn, channel))
        }
    };

    let exe = std::env::current_exe()?;
    let url = match broker {
        Broker::Redis => config.redis_url.clone(),
        Broker::Rabbit => config.amqp_url.clone(),
    };
    let worker_cmd = vec![
        exe.display().to_string(),
        "spike-worker".into(),
        broker.name().into(),
        url,
        run.clone(),
        config.redis_url.clone(),
        counter.clone(),
        config.worker_rate.to_string(),
    ];
    // One JSON document per file: the directory is loaded as kubectl loads one.
    let manifests = dir.join("manifests");
    std::fs::create_dir(&manifests)?;
    let (deployment, scaled_object) = manifest(config, broker, &run, &worker_cmd);
    std::fs::write(manifests.join("deployment.json"), deployment)?;
    std::fs::write(manifests.join("scaledobject.json"), scaled_object)?;
    let logs = dir.join("logs");
    std::fs::create_dir(&logs)?;
    let out = std::fs::File::create(dir.join("ebb.log"))?;
    let mut ebb = match std::env::var_os("EBB_BIN") {
        Some(bin) => tokio::process::Command::new(bin)
            .arg("run")
            .arg("-f")
            .arg(&manifests)
            .arg("--plain")
            .arg("--log-dir")
            .arg(&logs)
            .arg("--hpa-sync-period")
            .arg(format!("{}s", config.hpa_sync))
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()?,
        None => tokio::process::Command::new(&exe)
            .arg("spike-supervise")
            .arg(&dir)
            .arg(config.hpa_sync.to_string())
            .stdout(out.try_clone()?)
            .stderr(out)
            .kill_on_drop(true)
            .spawn()?,
    };
    let pid = ebb.id().ok_or("ebb exited at once")?;
    // Let it load the manifest and make its first poll of the empty broker.
    tokio::time::sleep(Duration::from_secs(3)).await;
    if ebb.try_wait()?.is_some() {
        return Err(format!("ebb exited early; log: {}", tail(&dir.join("ebb.log"))).into());
    }

    let produced = Arc::new(AtomicU64::new(0));
    let cpu0 = proc_cpu(pid);
    let t0 = Instant::now();
    let producer = {
        let (config, produced, run) = (config.clone(), produced.clone(), run.clone());
        tokio::spawn(async move { produce(&config, broker, &run, &produced).await })
    };

    let mut samples: Vec<Sample> = Vec::new();
    let mut producer = Some(producer);
    let mut producer_secs = None;
    let mut drained_at = None;
    let mut scaled_in_at = None;
    let drain_timeout = Duration::from_secs(env_u64("EBB_SPIKE_DRAIN_TIMEOUT", 600));
    let scale_in_timeout = Duration::from_secs(config.cooldown + 4 * config.hpa_sync + 120);
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let t = t0.elapsed();
        if producer.as_ref().is_some_and(|p| p.is_finished())
            && let Some(p) = producer.take()
        {
            producer_secs = Some(p.await??);
        }
        let consumed: u64 = redis::cmd("GET")
            .arg(&counter)
            .query_async::<Option<u64>>(&mut redis)
            .await?
            .unwrap_or(0);
        let s = Sample {
            t: t.as_secs_f64(),
            produced: produced.load(Ordering::Relaxed),
            consumed,
            replicas: children(pid),
            cpu: proc_cpu(pid) - cpu0,
            rss_mib: proc_status_mib(pid, "VmRSS"),
        };
        if samples.len().is_multiple_of(5)
            || producer_secs.is_some() && drained_at.is_none() && consumed >= s.produced
        {
            println!(
                "  t={:5.0}s produced {:>10} backlog {:>10} replicas {:>3}  ebb CPU {:6.2}s RSS {:5.1} MiB",
                s.t,
                s.produced,
                s.produced.saturating_sub(s.consumed),
                s.replicas,
                s.cpu,
                s.rss_mib
            );
        }
        let replicas = s.replicas;
        let all_consumed = s.consumed >= s.produced;
        samples.push(s);
        let Some(stopped) = producer_secs else {
            continue;
        };
        if drained_at.is_none() {
            if all_consumed {
                drained_at = Some(t.as_secs_f64());
            } else if t.as_secs_f64() - stopped > drain_timeout.as_secs_f64() {
                break;
            }
            continue;
        }
        if replicas == 0 {
            scaled_in_at = Some(t.as_secs_f64());
            break;
        }
        if t.as_secs_f64() - drained_at.unwrap_or(stopped) > scale_in_timeout.as_secs_f64() {
            break;
        }
    }
    let cpu = proc_cpu(pid) - cpu0;
    let window = t0.elapsed().as_secs_f64();
    let hwm = proc_status_mib(pid, "VmHWM");

    // Stop Ebb as `ebb run` is stopped: SIGTERM, then it stops and reaps every worker.
    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .status();
    let _ = tokio::time::timeout(Duration::from_secs(30), ebb.wait()).await;

    // Final tallies, broker side included.
    let produced_n = produced.load(Ordering::Relaxed);
    let consumed: u64 = redis::cmd("GET")
        .arg(&counter)
        .query_async::<Option<u64>>(&mut redis)
        .await?
        .unwrap_or(0);
    let left = match (&amqp, broker) {
        (Some((_, channel)), _) => {
            let q = channel
                .queue_declare(
                    run.as_str().into(),
                    QueueDeclareOptions {
                        passive: true,
                        ..QueueDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await?;
            let left = format!("queue messages left {}", q.message_count());
            channel
                .queue_delete(run.as_str().into(), QueueDeleteOptions::default())
                .await?;
            left
        }
        (None, _) => {
            let pending: redis::Value = redis::cmd("XPENDING")
                .arg(&run)
                .arg("workers")
                .query_async(&mut redis)
                .await?;
            let pending = match pending {
                redis::Value::Array(v) => match v.first() {
                    Some(redis::Value::Int(n)) => *n,
                    _ => -1,
                },
                _ => -1,
            };
            let len: u64 = redis::cmd("XLEN").arg(&run).query_async(&mut redis).await?;
            format!("stream length {len}, pending {pending}")
        }
    };
    let _: () = redis::cmd("DEL")
        .arg(&run)
        .arg(&counter)
        .query_async(&mut redis)
        .await?;
    if let Some((conn, _)) = amqp {
        let _ = conn.close(200, "done".into()).await;
    }

    let producer_secs = producer_secs.unwrap_or(window);
    let rate = produced_n as f64 / producer_secs;
    let peak_backlog = samples
        .iter()
        .map(|s| s.produced.saturating_sub(s.consumed))
        .max()
        .unwrap_or(0);
    let peak_replicas = samples.iter().map(|s| s.replicas).max().unwrap_or(0);
    let peak_rss = samples
        .iter()
        .map(|s| s.rss_mib)
        .fold(0.0, f64::max)
        .max(hwm);
    // Replicas over time, one point per 10 s: the shape of the scale-out and scale-in.
    let shape: Vec<String> = samples
        .iter()
        .filter(|s| (s.t.round() as u64).is_multiple_of(10))
        .map(|s| format!("{:.0}s:{}", s.t, s.replicas))
        .collect();
    println!("  replicas over time: {}", shape.join(" "));
    // A worker that fails exits with `Error: …` in its log, and Ebb restarts it: count them.
    let errors: Vec<String> = std::fs::read_dir(&logs)?
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path()).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|l| l.starts_with("Error"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    let met = |ok: bool| if ok { "met" } else { "NOT met" };
    println!(
        "spike {}: producer {} events in {:.1} s = {:.0} events/s (target {:.0}/s: {})",
        broker.name(),
        produced_n,
        producer_secs,
        rate,
        config.rate_per_sec(),
        met(rate >= config.rate_per_sec() * 0.98)
    );
    println!(
        "spike {}: peak backlog {} events, peak replicas {} of {}",
        broker.name(),
        peak_backlog,
        peak_replicas,
        config.max_replicas
    );
    match drained_at {
        Some(d) => println!(
            "spike {}: backlog drained {:.1} s after the producer stopped",
            broker.name(),
            (d - producer_secs).max(0.0)
        ),
        None => println!(
            "spike {}: backlog NOT drained within {} s after the producer stopped",
            broker.name(),
            drain_timeout.as_secs()
        ),
    }
    match (drained_at, scaled_in_at) {
        (Some(d), Some(s)) => println!(
            "spike {}: scaled in to 0 replicas {:.1} s after the backlog drained, {:.1} s after the producer stopped (cooldown {} s)",
            broker.name(),
            s - d,
            s - producer_secs,
            config.cooldown
        ),
        _ => println!(
            "spike {}: NOT scaled in to 0 replicas within {} s after draining (cooldown {} s)",
            broker.name(),
            scale_in_timeout.as_secs(),
            config.cooldown
        ),
    }
    println!(
        "spike {}: ebb CPU {:.2} s over {:.0} s = {:.1}% of one core; peak RSS {:.1} MiB (Ebb process only, workers excluded)",
        broker.name(),
        cpu,
        window,
        cpu / window * 100.0,
        peak_rss
    );
    println!(
        "spike {}: produced {} consumed {} ({left}): {}",
        broker.name(),
        produced_n,
        consumed,
        if produced_n == consumed {
            "nothing lost, nothing twice"
        } else {
            "MISMATCH"
        }
    );
    println!(
        "spike {}: worker failures (each a replica Ebb restarted): {}{}; logs in {}",
        broker.name(),
        errors.len(),
        errors
            .first()
            .map(|e| format!(" (first: {e})"))
            .unwrap_or_default(),
        dir.display()
    );
    Ok(())
}

/// The worker Deployment and its ScaledObject, as JSON.
fn manifest(config: &Config, broker: Broker, run: &str, command: &[String]) -> (String, String) {
    let deployment = json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "spike-worker"},
        "spec": {"replicas": 0, "template": {"spec": {
            "terminationGracePeriodSeconds": 20,
            "containers": [{"name": "worker", "command": command}]
        }}}
    });
    let trigger = match broker {
        Broker::Redis => json!({"type": "redis-streams", "metadata": {
            "address": config.redis_addr, "stream": run, "consumerGroup": "workers",
            "lagCount": config.target.to_string()
        }}),
        Broker::Rabbit => json!({"type": "rabbitmq", "metadata": {
            "host": config.amqp_url, "protocol": "amqp", "queueName": run,
            "mode": "QueueLength", "value": config.target.to_string()
        }}),
    };
    let scaled_object = json!({
        "apiVersion": "keda.sh/v1alpha1", "kind": "ScaledObject", "metadata": {"name": "spike-worker"},
        "spec": {
            "scaleTargetRef": {"name": "spike-worker"},
            "pollingInterval": 1,
            "cooldownPeriod": config.cooldown,
            "minReplicaCount": 0,
            "maxReplicaCount": config.max_replicas,
            // The HPA's default scale-down window is 300 s; the cooldown stands in for it here so a
            // run ends in minutes. Scale-up keeps Kubernetes' default policies.
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": {"scaleDown": {
                "stabilizationWindowSeconds": config.cooldown,
                "policies": [{"type": "Percent", "value": 100, "periodSeconds": 15}]
            }}}},
            "triggers": [trigger]
        }
    });
    (deployment.to_string(), scaled_object.to_string())
}

/// Produces at `config`'s rate for `config.seconds` (or as fast as it can, if slower) over
/// `config.producers` connections, counting only events the broker accepted. Returns the seconds
/// it produced for.
async fn produce(
    config: &Config,
    broker: Broker,
    run: &str,
    produced: &Arc<AtomicU64>,
) -> Result<f64> {
    let claimed = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..config.producers {
        let (config, run, produced, claimed) = (
            config.clone(),
            run.to_owned(),
            produced.clone(),
            claimed.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut sink = Sink::connect(&config, broker, &run).await?;
            let duration = Duration::from_secs(config.seconds);
            loop {
                let elapsed = start.elapsed();
                if elapsed >= duration {
                    return Ok::<(), Box<dyn Error + Send + Sync>>(());
                }
                let due = (config.rate_per_sec() * elapsed.as_secs_f64()) as u64;
                let from = claimed.load(Ordering::Relaxed);
                if from + PRODUCE_BATCH > due + PRODUCE_BATCH / 2 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                if claimed
                    .compare_exchange(
                        from,
                        from + PRODUCE_BATCH,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_err()
                {
                    continue;
                }
                sink.send(from, PRODUCE_BATCH).await?;
                produced.fetch_add(PRODUCE_BATCH, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(start.elapsed().as_secs_f64())
}

enum Sink {
    Redis(redis::aio::MultiplexedConnection, String),
    /// The connection is held so the channel stays open.
    Rabbit {
        _conn: Box<Connection>,
        channel: lapin::Channel,
        queue: String,
    },
}

impl Sink {
    async fn connect(config: &Config, broker: Broker, run: &str) -> Result<Sink> {
        Ok(match broker {
            Broker::Redis => Sink::Redis(redis_conn(&config.redis_url).await?, run.to_owned()),
            Broker::Rabbit => {
                let conn =
                    Connection::connect(&config.amqp_url, ConnectionProperties::default()).await?;
                let channel = conn.create_channel().await?;
                Sink::Rabbit {
                    _conn: Box::new(conn),
                    channel,
                    queue: run.to_owned(),
                }
            }
        })
    }

    /// Events `from..from + n` in one pipeline (Redis) or `n` publishes in flight at once (AMQP,
    /// publisher confirms off, transient messages).
    async fn send(&mut self, from: u64, n: u64) -> Result<()> {
        match self {
            Sink::Redis(conn, stream) => {
                let mut pipe = redis::pipe();
                for i in from..from + n {
                    pipe.cmd("XADD")
                        .arg(&*stream)
                        .arg("*")
                        .arg("e")
                        .arg(i)
                        .ignore();
                }
                let _: () = pipe.query_async(conn).await?;
            }
            Sink::Rabbit { channel, queue, .. } => {
                let payloads: Vec<String> = (from..from + n).map(|i| i.to_string()).collect();
                let publishes = payloads.iter().map(|p| {
                    channel.basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        BasicPublishOptions::default(),
                        p.as_bytes(),
                        BasicProperties::default(),
                    )
                });
                futures::future::try_join_all(publishes).await?;
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Supervisor: `ebb run` without the CLI around it.

/// `spike-supervise <dir> <hpa sync seconds>`: as `ebb run -f <dir>/manifests --plain --log-dir
/// <dir>/logs` does it (crates/cli/src/run.rs), until SIGTERM.
fn supervise_main(args: &[String]) -> Result<()> {
    let dir = PathBuf::from(
        args.first()
            .ok_or("spike-supervise <dir> <hpa-sync-seconds>")?,
    );
    let mut options = ebb_local::Options::new(vec![dir.join("manifests")]);
    options.log_dir = Some(dir.join("logs"));
    options.hpa_sync_period =
        Duration::from_secs(args.get(1).and_then(|s| s.parse().ok()).unwrap_or(15));
    options.terminal = false;
    let view = Arc::new(ebb_local::View::new(false));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let summary = runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        ebb_local::run(options, view, async move {
            term.recv().await;
        })
        .await
        .map_err(|e| -> Box<dyn Error + Send + Sync> { e.to_string().into() })
    })?;
    if !summary.problems.is_empty() {
        eprintln!("problems: {:?}", summary.problems);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Worker

/// `spike-worker <broker> <url> <stream|queue> <redis url> <counter key> <events/s>`.
fn worker_main(args: &[String]) -> Result<()> {
    let [broker, url, source, redis_url, counter, rate] = args else {
        return Err("spike-worker <broker> <url> <source> <redis-url> <counter> <rate>".into());
    };
    let rate: f64 = rate.parse()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let stop = Arc::new(AtomicBool::new(false));
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let flag = stop.clone();
        tokio::spawn(async move {
            term.recv().await;
            flag.store(true, Ordering::Relaxed);
        });
        let mut tally = redis_conn(redis_url).await?;
        let me = format!(
            "{}-{}",
            std::env::var("EBB_REPLICA").unwrap_or_default(),
            std::process::id()
        );
        match broker.as_str() {
            "redis-streams" => work_redis(url, source, &mut tally, counter, &me, rate, &stop).await,
            _ => work_rabbit(url, source, &mut tally, counter, &me, rate, &stop).await,
        }
    })
}

/// Sleeps so that `n` events take at least `n / rate` seconds since `since`.
async fn pace(n: usize, rate: f64, since: Instant) {
    let budget = Duration::from_secs_f64(n as f64 / rate);
    if let Some(rest) = budget.checked_sub(since.elapsed()) {
        tokio::time::sleep(rest).await;
    }
}

async fn work_redis(
    url: &str,
    stream: &str,
    tally: &mut redis::aio::MultiplexedConnection,
    counter: &str,
    me: &str,
    rate: f64,
    stop: &AtomicBool,
) -> Result<()> {
    let mut conn = redis_conn(url).await?;
    let _ = tally;
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let reply: Option<redis::streams::StreamReadReply> = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("workers")
            .arg(me)
            .arg("COUNT")
            .arg(BATCH)
            .arg("BLOCK")
            .arg(1000)
            .arg("STREAMS")
            .arg(stream)
            .arg(">")
            .query_async(&mut conn)
            .await?;
        let ids: Vec<String> = reply
            .into_iter()
            .flat_map(|r| r.keys)
            .flat_map(|k| k.ids)
            .map(|id| id.id)
            .collect();
        if ids.is_empty() {
            continue;
        }
        // The acknowledgement and the tally in one transaction: counted iff acknowledged.
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("XACK")
            .arg(stream)
            .arg("workers")
            .arg(&ids)
            .ignore()
            .cmd("INCRBY")
            .arg(counter)
            .arg(ids.len())
            .ignore();
        let _: () = pipe.query_async(&mut conn).await?;
        pace(ids.len(), rate, t).await;
    }
    Ok(())
}

async fn work_rabbit(
    url: &str,
    queue: &str,
    tally: &mut redis::aio::MultiplexedConnection,
    counter: &str,
    me: &str,
    rate: f64,
    stop: &AtomicBool,
) -> Result<()> {
    let conn = Connection::connect(url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    channel
        .basic_qos(2 * BATCH as u16, BasicQosOptions::default())
        .await?;
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            me.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    let mut batch_start = Instant::now();
    let mut in_batch = 0usize;
    let mut last_tag = 0;
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        if !stopping && in_batch < BATCH {
            match tokio::time::timeout(Duration::from_millis(200), consumer.next()).await {
                Ok(Some(delivery)) => {
                    let delivery = delivery?;
                    if in_batch == 0 {
                        batch_start = Instant::now();
                    }
                    last_tag = delivery.delivery_tag;
                    in_batch += 1;
                    continue;
                }
                Ok(None) => break,
                Err(_) if in_batch == 0 => continue,
                Err(_) => {}
            }
        }
        if in_batch > 0 {
            // Acknowledged, then counted: a worker stopped by SIGTERM does both before it exits.
            channel
                .basic_ack(last_tag, BasicAckOptions { multiple: true })
                .await?;
            let _: () = redis::cmd("INCRBY")
                .arg(counter)
                .arg(in_batch)
                .query_async(tally)
                .await?;
            pace(in_batch, rate, batch_start).await;
            in_batch = 0;
        }
        if stopping {
            break;
        }
    }
    // Unacknowledged prefetched deliveries go back to the queue when the channel closes.
    let _ = channel.close(200, "stopping".into()).await;
    let _ = conn.close(200, "stopping".into()).await;
    Ok(())
}

/// A connection whose replies may take 10 s: the client's default (500 ms) is shorter than
/// `XREADGROUP … BLOCK 1000` and than a loaded two-core machine sometimes takes.
async fn redis_conn(url: &str) -> Result<redis::aio::MultiplexedConnection> {
    let mut conn = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    conn.set_response_timeout(Duration::from_secs(10));
    Ok(conn)
}

// ---------------------------------------------------------------------------------------------
// /proc

/// utime + stime of `pid`, in seconds.
fn proc_cpu(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // pid (comm) state ppid … utime is field 14, stime 15; comm may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let field = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (field(11) + field(12)) / USER_HZ
}

/// A `kB` field of /proc/<pid>/status, in MiB (0 if gone).
fn proc_status_mib(pid: u32, field: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Live (not zombie) processes whose parent is `pid`: the replicas Ebb runs.
fn children(pid: u32) -> usize {
    let parent = pid.to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0;
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
        .filter(|stat| {
            let fields: Vec<&str> = stat
                .rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().collect())
                .unwrap_or_default();
            fields.get(1) == Some(&parent.as_str()) && fields.first() != Some(&"Z")
        })
        .count()
}

/// The last lines of a log, for an error message.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
