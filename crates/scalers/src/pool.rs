//! Shared clients: one per (endpoint, credentials, TLS settings), released with its last trigger.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use crate::http::HttpClient;

/// A map from client identity to a weakly held client.
///
/// Triggers hold the `Arc`; the pool only remembers it. When the last trigger using a client is
/// dropped, the client (and its connection) goes with it, and the entry is pruned.
pub struct ClientPool<K, C> {
    entries: Mutex<HashMap<K, Weak<C>>>,
}

impl<K, C> Default for ClientPool<K, C> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<K, C> std::fmt::Debug for ClientPool<K, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientPool").finish_non_exhaustive()
    }
}

impl<K: Hash + Eq + Clone, C> ClientPool<K, C> {
    /// The live client for `key`, or a new one from `create`.
    pub fn get_or_create<E>(
        &self,
        key: &K,
        create: impl FnOnce(&K) -> Result<C, E>,
    ) -> Result<Arc<C>, E> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(live) = entries.get(key).and_then(Weak::upgrade) {
            return Ok(live);
        }
        entries.retain(|_, weak| weak.strong_count() > 0);
        let client = Arc::new(create(key)?);
        entries.insert(key.clone(), Arc::downgrade(&client));
        Ok(client)
    }

    /// How many clients are alive (held by at least one trigger).
    pub fn live(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.values().filter(|w| w.strong_count() > 0).count()
    }
}

/// Every pool of shared clients; clone it freely (it is an `Arc`). Building scalers with the same
/// `Clients` is what makes them share connections.
#[derive(Clone, Debug)]
pub struct Clients {
    pub(crate) inner: Arc<Pools>,
}

#[derive(Default, Debug)]
pub(crate) struct Pools {
    /// How this process names itself to brokers (AMQP `connection_name`).
    pub(crate) name: String,
    pub(crate) http: ClientPool<crate::http::HttpSettings, HttpClient>,
    pub(crate) redis: ClientPool<crate::redis::RedisKey, crate::redis::RedisClient>,
    pub(crate) amqp: ClientPool<crate::rabbitmq::amqp::AmqpKey, crate::rabbitmq::amqp::AmqpClient>,
    pub(crate) postgres: ClientPool<crate::postgresql::PgKey, crate::postgresql::PgClient>,
    pub(crate) mysql: ClientPool<crate::mysql::MysqlKey, crate::mysql::MysqlClient>,
    pub(crate) kafka: ClientPool<crate::kafka::KafkaKey, crate::kafka::KafkaClient>,
    pub(crate) grpc: ClientPool<crate::external::GrpcKey, crate::external::GrpcClient>,
}

impl Clients {
    /// A fresh set of pools; connections are named `ebb`.
    pub fn new() -> Self {
        Self::named("ebb")
    }

    /// A fresh set of pools whose connections carry `name` (e.g. the operator pod's name).
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            inner: Arc::new(Pools {
                name: name.into(),
                ..Pools::default()
            }),
        }
    }

    /// Live shared clients per kind: `(http, redis, amqp, postgres, mysql)`.
    pub fn live_counts(&self) -> (usize, usize, usize, usize, usize) {
        let p = &self.inner;
        (
            p.http.live(),
            p.redis.live(),
            p.amqp.live(),
            p.postgres.live(),
            p.mysql.live(),
        )
    }
}

impl Default for Clients {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_shares_while_held_and_releases_with_the_last_holder() {
        let pool: ClientPool<&str, u32> = ClientPool::default();
        let a = pool.get_or_create(&"k", |_| Ok::<_, ()>(1)).unwrap();
        let b = pool.get_or_create(&"k", |_| Ok::<_, ()>(2)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(pool.live(), 1);
        drop(a);
        drop(b);
        assert_eq!(pool.live(), 0);
        let c = pool.get_or_create(&"k", |_| Ok::<_, ()>(3)).unwrap();
        assert_eq!(*c, 3);
    }
}
