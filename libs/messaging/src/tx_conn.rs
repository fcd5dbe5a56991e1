//! [`TxConn`]: the connection [`crate::apply_once`] lends to its closure.
//!
//! A closure bound `for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, _>` cannot capture
//! borrows (`let outbox = &self.outbox;`): the boxed future must be valid for *every* `'c`,
//! so everything it captures would have to be `'static`. `&'c mut TxConn<'a>` carries the
//! missing bound `'a: 'c` (the same device as `std::thread::scope`), so the closure may borrow
//! anything that outlives the `apply_once` call. Otherwise it is the transaction's connection:
//! it derefs to `PgConnection` (pass `conn` to functions taking `&mut PgConnection`) and is an
//! executor itself (`query.execute(&mut *conn)` and `query.execute(conn)` both work).

use std::{
    fmt,
    marker::PhantomData,
    ops::{Deref, DerefMut},
};

use futures::{future::BoxFuture, stream::BoxStream};
use sqlx::{
    postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo},
    Describe, Either, Execute, Executor, PgConnection, Postgres, Transaction,
};

/// The open transaction of one [`crate::apply_once`] call.
pub struct TxConn<'a> {
    tx: Transaction<'static, Postgres>,
    _borrows: PhantomData<&'a ()>,
}

impl TxConn<'_> {
    pub(crate) fn new(tx: Transaction<'static, Postgres>) -> Self {
        Self {
            tx,
            _borrows: PhantomData,
        }
    }

    /// The transaction, for its owner to commit (plainly or through an outbox handle).
    pub(crate) fn into_transaction(self) -> Transaction<'static, Postgres> {
        self.tx
    }
}

impl fmt::Debug for TxConn<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TxConn")
    }
}

impl Deref for TxConn<'_> {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        &self.tx
    }
}

impl DerefMut for TxConn<'_> {
    fn deref_mut(&mut self) -> &mut PgConnection {
        &mut self.tx
    }
}

/// Delegates to the transaction's `&mut PgConnection`.
impl<'c> Executor<'c> for &'c mut TxConn<'_> {
    type Database = Postgres;

    fn fetch_many<'e, 'q, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: Execute<'q, Postgres> + 'q,
        'q: 'e,
    {
        self.deref_mut().fetch_many(query)
    }

    fn fetch_optional<'e, 'q, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: Execute<'q, Postgres> + 'q,
        'q: 'e,
    {
        self.deref_mut().fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.deref_mut().prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.deref_mut().describe(sql)
    }
}
