//! `ebb demo` (hidden): a producer and a worker for the quickstart and the local-mode tests, so
//! they need nothing but cargo. The queue is a SQLite `jobs` table (the embedded default), a Redis
//! list, a RabbitMQ queue or an Azure Storage Queue (REST, Shared Key or SAS from a connection
//! string; Azurite works). Workers stop cleanly on SIGTERM, putting back the job in hand; with
//! `--once` a worker is a Job: it takes at most one job, finishes it and exits.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use ebb_scalers::Clients;
use ebb_scalers::SecretString;
use ebb_scalers::azure::{StorageAccount, signed_request};
use ebb_scalers::http::{HttpClient, HttpSettings};
use lapin::options::{BasicAckOptions, BasicGetOptions, BasicPublishOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};
use redis::AsyncCommands;
use rusqlite::{Connection as Db, OptionalExtension};
use tokio::signal::unix::{SignalKind, signal};

/// Arguments of `ebb demo`.
#[derive(clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Demo,
}

#[derive(clap::Subcommand)]
enum Demo {
    /// Add jobs to the queue at a rate, then idle until stopped.
    Produce {
        #[command(flatten)]
        queue: Queue,
        /// Jobs per second.
        #[arg(long, default_value_t = 10.0)]
        rate: f64,
        /// Produce for this long (then idle).
        #[arg(long = "for", value_parser = humantime::parse_duration, default_value = "30s")]
        duration: Duration,
        /// Jobs to add at once before the steady rate.
        #[arg(long, default_value_t = 0)]
        burst: u64,
        /// Start from an empty queue.
        #[arg(long)]
        reset: bool,
        /// Exit when done instead of idling.
        #[arg(long)]
        exit: bool,
        #[command(flatten)]
        azure: AzureArgs,
    },
    /// Take jobs one by one and "work" on each for 1/per-second seconds.
    Work {
        #[command(flatten)]
        queue: Queue,
        /// Jobs per second this worker finishes.
        #[arg(long, default_value_t = 5.0)]
        per_second: f64,
        /// Take at most one job, finish it and exit 0 (a ScaledJob's Job); an empty queue is
        /// retried for 2 s, then the worker exits 0 having done nothing.
        #[arg(long)]
        once: bool,
        /// Append a line per finished job (`<message id> <text>` for an Azure queue) to FILE.
        #[arg(long, value_name = "FILE", env = "EBB_DEMO_PROCESSED_LOG")]
        processed_log: Option<PathBuf>,
        #[command(flatten)]
        azure: AzureArgs,
    },
}

#[derive(clap::Args, Clone)]
struct AzureArgs {
    /// The storage connection string for `--azure-queue` (AccountKey or SharedAccessSignature;
    /// a QueueEndpoint such as Azurite's is honoured).
    #[arg(
        long,
        value_name = "STRING",
        env = "AZURE_STORAGE_CONNECTION_STRING",
        hide_env_values = true
    )]
    azure_connection: Option<String>,
}

#[derive(clap::Args, Clone)]
#[group(required = true, multiple = false)]
struct Queue {
    /// SQLite database file with a `jobs` table (created if missing).
    #[arg(long, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Redis URL; the queue is the list `--list`.
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// RabbitMQ AMQP URL; the queue is `EBB_DEMO_QUEUE`.
    #[arg(long, value_name = "URL")]
    amqp: Option<String>,
    /// Azure Storage Queue: its name or URL (`https://acct.queue.core.windows.net/images`; the
    /// account comes from `--azure-connection`).
    #[arg(long, value_name = "QUEUE|URL")]
    azure_queue: Option<String>,
}

pub(crate) fn run(args: Args) -> ExitCode {
    let result = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
        .and_then(|rt| rt.block_on(demo(args.command)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ebb demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// The queue name for Redis and RabbitMQ (`EBB_DEMO_QUEUE`, default `jobs`).
fn queue_name() -> String {
    std::env::var("EBB_DEMO_QUEUE").unwrap_or_else(|_| "jobs".into())
}

enum Backend {
    Sqlite(Box<Db>),
    Redis(redis::aio::MultiplexedConnection, String),
    Amqp(Box<(Connection, lapin::Channel)>, String),
    Azure(Box<AzureQueue>),
}

/// An Azure Storage Queue over REST and the message in hand (a worker holds at most one).
struct AzureQueue {
    client: std::sync::Arc<HttpClient>,
    account: StorageAccount,
    queue: String,
    produced: u64,
    in_hand: Option<AzureMessage>,
}

struct AzureMessage {
    id: String,
    pop_receipt: String,
    text: String,
}

impl AzureQueue {
    fn open(queue: &str, azure: &AzureArgs) -> anyhow::Result<AzureQueue> {
        let raw = azure
            .azure_connection
            .clone()
            .context("--azure-queue needs --azure-connection or AZURE_STORAGE_CONNECTION_STRING")?;
        let account = StorageAccount::from_connection_string(
            "--azure-connection",
            &SecretString::new(raw),
            "queue",
            "core.windows.net",
        )?;
        // A queue URL names the queue in its last path segment.
        let queue = queue
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(queue)
            .to_owned();
        let client = Clients::named("ebb-demo")
            .http(&HttpSettings::with_timeout(Duration::from_secs(10)))?;
        Ok(AzureQueue {
            client,
            account,
            queue,
            produced: 0,
            in_hand: None,
        })
    }

    async fn call(
        &self,
        verb: &str,
        path: &str,
        query: &str,
        body: &str,
        ok: &[u16],
    ) -> anyhow::Result<String> {
        let reply = signed_request(&self.client, &self.account, verb, path, query, body).await?;
        if !ok.contains(&reply.status) && !(200..300).contains(&reply.status) {
            anyhow::bail!(
                "{verb} /{path}: HTTP {}: {}",
                reply.status,
                reply.body.chars().take(300).collect::<String>()
            );
        }
        Ok(reply.body)
    }

    /// Creates the queue (an existing one is fine).
    async fn create(&self) -> anyhow::Result<()> {
        self.call("PUT", &self.queue, "", "", &[409]).await?;
        Ok(())
    }

    async fn clear(&self) -> anyhow::Result<()> {
        self.call("DELETE", &format!("{}/messages", self.queue), "", "", &[])
            .await?;
        Ok(())
    }

    async fn put(&mut self, me: &str) -> anyhow::Result<()> {
        self.produced += 1;
        let body = format!(
            "<QueueMessage><MessageText>{me}-{}</MessageText></QueueMessage>",
            self.produced
        );
        self.call("POST", &format!("{}/messages", self.queue), "", &body, &[])
            .await?;
        Ok(())
    }

    /// Gets one message, invisible to others for 30 s (it reappears if this worker dies).
    async fn get(&mut self) -> anyhow::Result<bool> {
        let xml = self
            .call(
                "GET",
                &format!("{}/messages", self.queue),
                "numofmessages=1&visibilitytimeout=30",
                "",
                &[],
            )
            .await?;
        let (Some(id), Some(pop_receipt)) = (
            xml_element(&xml, "MessageId"),
            xml_element(&xml, "PopReceipt"),
        ) else {
            return Ok(false);
        };
        let text = xml_element(&xml, "MessageText").unwrap_or_default();
        self.in_hand = Some(AzureMessage {
            id,
            pop_receipt,
            text,
        });
        Ok(true)
    }

    /// Deletes the message in hand with its pop receipt; returns `<id> <text>`.
    async fn delete(&mut self) -> anyhow::Result<Option<String>> {
        let Some(m) = self.in_hand.take() else {
            return Ok(None);
        };
        let receipt = percent_encode(&m.pop_receipt);
        self.call(
            "DELETE",
            &format!("{}/messages/{}", self.queue, m.id),
            &format!("popreceipt={receipt}"),
            "",
            &[],
        )
        .await?;
        Ok(Some(format!("{} {}", m.id, m.text)))
    }
}

/// A query value, percent-encoded (pop receipts carry `+`, `/` and `=`).
fn percent_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The text of the first `<name>…</name>` element (the queue service's XML is flat enough).
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let len = xml[start..].find(&format!("</{name}>"))?;
    Some(
        xml[start..start + len]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

impl Backend {
    async fn open(q: &Queue, azure: &AzureArgs) -> anyhow::Result<Backend> {
        if let Some(queue) = &q.azure_queue {
            return Ok(Backend::Azure(Box::new(AzureQueue::open(queue, azure)?)));
        }
        if let Some(path) = &q.db {
            return Ok(Backend::Sqlite(Box::new(open_db(path)?)));
        }
        if let Some(url) = &q.redis {
            let client = redis::Client::open(url.as_str()).context("redis URL")?;
            let conn = client
                .get_multiplexed_async_connection()
                .await
                .context("connecting to redis")?;
            return Ok(Backend::Redis(conn, queue_name()));
        }
        let url = q.amqp.as_deref().unwrap_or_default();
        let conn = Connection::connect(url, ConnectionProperties::default())
            .await
            .context("connecting to rabbitmq")?;
        let channel = conn.create_channel().await.context("opening a channel")?;
        let name = queue_name();
        channel
            .queue_declare(
                name.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .context("declaring the queue")?;
        Ok(Backend::Amqp(Box::new((conn, channel)), name))
    }

    async fn push(&mut self, n: u64, me: &str) -> anyhow::Result<()> {
        match self {
            Backend::Azure(queue) => {
                for _ in 0..n {
                    queue.put(me).await?;
                }
            }
            Backend::Sqlite(db) => {
                let tx = db.transaction()?;
                for _ in 0..n {
                    tx.execute("INSERT INTO jobs(state) VALUES ('queued')", [])?;
                }
                tx.commit()?;
            }
            Backend::Redis(conn, list) => {
                for _ in 0..n {
                    let _: i64 = conn.rpush(list.as_str(), "job").await?;
                }
            }
            Backend::Amqp(amqp, queue) => {
                let channel = &amqp.1;
                for _ in 0..n {
                    channel
                        .basic_publish(
                            "".into(),
                            queue.as_str().into(),
                            BasicPublishOptions::default(),
                            b"job",
                            BasicProperties::default(),
                        )
                        .await?
                        .await?;
                }
            }
        }
        Ok(())
    }

    /// Takes one job: returns a handle to finish (ack) or give back.
    async fn take(&mut self, me: &str) -> anyhow::Result<Option<u64>> {
        Ok(match self {
            Backend::Sqlite(db) => {
                // A job claimed by a worker that died (SIGKILL) goes back after 30 s.
                db.execute(
                    "UPDATE jobs SET state='queued', claimed_by=NULL WHERE state='working' AND claimed_at < unixepoch() - 30",
                    [],
                )?;
                db.query_row(
                    "UPDATE jobs SET state='working', claimed_by=?1, claimed_at=unixepoch() WHERE id = (SELECT id FROM jobs WHERE state='queued' ORDER BY id LIMIT 1) RETURNING id",
                    [me],
                    |r| r.get::<_, i64>(0),
                )
                .optional()?
                .map(|id| u64::try_from(id).unwrap_or(0))
            }
            Backend::Redis(conn, list) => {
                let v: Option<String> = conn.lpop(list.as_str(), None).await?;
                v.map(|_| 0)
            }
            Backend::Amqp(amqp, queue) => amqp
                .1
                .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
                .await?
                .map(|m| m.delivery.delivery_tag),
            Backend::Azure(queue) => queue.get().await?.then_some(0),
        })
    }

    /// Finishes the job; returns what to record in `--processed-log`.
    async fn finish(&mut self, handle: u64) -> anyhow::Result<String> {
        match self {
            Backend::Azure(queue) => return Ok(queue.delete().await?.unwrap_or_default()),
            Backend::Sqlite(db) => {
                db.execute("DELETE FROM jobs WHERE id = ?1", [handle as i64])?;
            }
            Backend::Redis(..) => {}
            Backend::Amqp(amqp, _) => {
                amqp.1.basic_ack(handle, BasicAckOptions::default()).await?;
            }
        }
        Ok(handle.to_string())
    }

    async fn give_back(&mut self, handle: u64) -> anyhow::Result<()> {
        match self {
            Backend::Sqlite(db) => {
                db.execute(
                    "UPDATE jobs SET state='queued', claimed_by=NULL WHERE id = ?1",
                    [handle as i64],
                )?;
            }
            Backend::Redis(conn, list) => {
                let _: i64 = conn.lpush(list.as_str(), "job").await?;
            }
            // Unacked: the broker redelivers when the channel closes.
            Backend::Amqp(amqp, _) => {
                let _ = amqp.0.close(200, "bye".into()).await;
            }
            // Not deleted: the message reappears when its visibility timeout ends.
            Backend::Azure(queue) => queue.in_hand = None,
        }
        Ok(())
    }
}

fn open_db(path: &Path) -> anyhow::Result<Db> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let db = Db::open(path).with_context(|| format!("opening {}", path.display()))?;
    db.busy_timeout(Duration::from_secs(10))?;
    db.execute_batch(
        "PRAGMA journal_mode=WAL;
         CREATE TABLE IF NOT EXISTS jobs(
           id INTEGER PRIMARY KEY AUTOINCREMENT,
           state TEXT NOT NULL DEFAULT 'queued',
           claimed_by TEXT,
           claimed_at INTEGER);",
    )?;
    Ok(db)
}

async fn demo(command: Demo) -> anyhow::Result<()> {
    let mut term = signal(SignalKind::terminate())?;
    let me = std::env::var("EBB_REPLICA").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
    match command {
        Demo::Produce {
            queue,
            rate,
            duration,
            burst,
            reset,
            exit,
            azure,
        } => {
            let mut backend = Backend::open(&queue, &azure).await?;
            if let Backend::Azure(q) = &backend {
                q.create().await?;
            }
            if reset {
                match &mut backend {
                    Backend::Azure(q) => q.clear().await?,
                    Backend::Sqlite(db) => {
                        db.execute("DELETE FROM jobs", [])?;
                    }
                    Backend::Redis(conn, list) => {
                        let _: i64 = conn.del(list.as_str()).await?;
                    }
                    Backend::Amqp(amqp, q) => {
                        amqp.1
                            .queue_purge(q.as_str().into(), Default::default())
                            .await?;
                    }
                }
            }
            backend.push(burst, &me).await?;
            let start = Instant::now();
            let mut made = burst;
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            println!(
                "{me}: producing {rate}/s for {}",
                humantime::format_duration(duration)
            );
            while start.elapsed() < duration {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = term.recv() => return Ok(()),
                }
                let due = burst + (start.elapsed().as_secs_f64() * rate) as u64;
                if due > made {
                    backend.push(due - made, &me).await?;
                    made = due;
                }
            }
            println!("{me}: produced {made} jobs; idle now");
            if !exit {
                term.recv().await;
            }
        }
        Demo::Work {
            queue,
            per_second,
            once,
            processed_log,
            azure,
        } => {
            let mut backend = Backend::open(&queue, &azure).await?;
            let work = Duration::from_secs_f64(1.0 / per_second.max(0.001));
            let mut done = 0u64;
            let started = Instant::now();
            println!("{me}: working at {per_second} jobs/s");
            loop {
                let job = tokio::select! {
                    j = backend.take(&me) => j?,
                    _ = term.recv() => break,
                };
                let Some(handle) = job else {
                    if once && started.elapsed() > Duration::from_secs(2) {
                        println!("{me}: --once: the queue stayed empty; nothing to do");
                        return Ok(());
                    }
                    tokio::select! {
                        () = tokio::time::sleep(Duration::from_millis(200)) => continue,
                        _ = term.recv() => break,
                    }
                };
                tokio::select! {
                    () = tokio::time::sleep(work) => {
                        let record = backend.finish(handle).await?;
                        if let Some(path) = &processed_log {
                            append_line(path, &record)?;
                        }
                        done += 1;
                        if once {
                            println!("{me}: --once: processed {record}");
                            return Ok(());
                        }
                        if done.is_multiple_of(25) {
                            println!("{me}: {done} jobs done");
                        }
                    }
                    _ = term.recv() => {
                        backend.give_back(handle).await?;
                        break;
                    }
                }
            }
            println!("{me}: SIGTERM: stopping after {done} jobs");
        }
    }
    Ok(())
}

/// Appends `line` to `path` in one write (`O_APPEND`: lines of concurrent Jobs never interleave).
fn append_line(path: &Path, line: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    f.write_all(format!("{line}\n").as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
