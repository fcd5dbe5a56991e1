//! [`TxConn`]: the transaction [`crate::apply_once`] lends to its closure.
//!
//! A closure bound `for<'c> FnOnce(&'c mut PgConnection) -> BoxFuture<'c, _>` cannot capture
//! borrows (`let outbox = &self.outbox;`): the boxed future must be valid for *every* `'c`,
//! so everything it captures would have to be `'static`. `&'c mut TxConn<'a>` carries the
//! missing bound `'a: 'c` (the same device as `std::thread::scope`), so the closure may borrow
//! anything that outlives the `apply_once` call. Otherwise it is the transaction: it derefs to
//! it (`T`: a plain `sqlx::Transaction`, or for [`crate::apply_once_with_outbox`] an
//! [`outbox::OutboxTx`], so `outbox.append(conn, …)` and functions taking `&mut OutboxTx`
//! accept `conn`), through it to `PgConnection` (pass `conn` to functions taking
//! `&mut PgConnection`), and is an executor itself (`query.execute(&mut *conn)` and
//! `query.execute(conn)` both work).

use std::{
    fmt,
    future::Future,
    marker::PhantomData,
    ops::{Deref, DerefMut},
};

use futures::{future::BoxFuture, stream::BoxStream};
use outbox::OutboxTx;
use sqlx::{
    postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo},
    Describe, Either, Execute, Executor, PgConnection, Postgres, Transaction,
};

/// The transaction a consumer's effect runs in: a plain `sqlx::Transaction`, or an
/// [`OutboxTx`] for an effect that appends events (its commit wakes the relay). What
/// [`crate::apply_once`] / [`crate::apply_once_with_outbox`] and a
/// [`crate::GroupHandler::Tx`] commit or roll back.
pub trait HandlerTx: DerefMut<Target = PgConnection> + Send {
    /// What a [`crate::GroupHandler::apply`] gets: `PgConnection` for a plain transaction,
    /// the [`OutboxTx`] itself for one that can append.
    type Conn: ?Sized + Send;

    fn conn(&mut self) -> &mut Self::Conn;
    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
    fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send;
}

impl HandlerTx for Transaction<'_, Postgres> {
    type Conn = PgConnection;

    fn conn(&mut self) -> &mut PgConnection {
        self
    }

    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        Transaction::commit(self)
    }

    fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        Transaction::rollback(self)
    }
}

impl HandlerTx for OutboxTx {
    type Conn = OutboxTx;

    fn conn(&mut self) -> &mut OutboxTx {
        self
    }

    fn commit(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        OutboxTx::commit(self)
    }

    fn rollback(self) -> impl Future<Output = Result<(), sqlx::Error>> + Send {
        OutboxTx::rollback(self)
    }
}

/// The open transaction of one [`crate::apply_once`] call (`T` = `OutboxTx` for
/// [`crate::apply_once_with_outbox`]). The plain default is `Transaction<'a, _>`, not
/// `'static` (what `pool.begin()` returns, narrowed): with a `'static` inside the closure's
/// argument type rustc no longer lets the closure's future borrow for just `'a`.
pub struct TxConn<'a, T = Transaction<'a, Postgres>> {
    tx: T,
    _borrows: PhantomData<&'a ()>,
}

impl<T> TxConn<'_, T> {
    pub(crate) fn new(tx: T) -> Self {
        Self {
            tx,
            _borrows: PhantomData,
        }
    }

    /// The transaction, for its owner to commit.
    pub(crate) fn into_transaction(self) -> T {
        self.tx
    }
}

impl<T> fmt::Debug for TxConn<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TxConn")
    }
}

impl<T> Deref for TxConn<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.tx
    }
}

impl<T> DerefMut for TxConn<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.tx
    }
}

/// Delegates to the transaction's `&mut PgConnection`.
impl<'c, T> Executor<'c> for &'c mut TxConn<'_, T>
where
    T: DerefMut<Target = PgConnection> + Send,
{
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
        self.tx.deref_mut().fetch_many(query)
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
        self.tx.deref_mut().fetch_optional(query)
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement<'q>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.tx.deref_mut().prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.tx.deref_mut().describe(sql)
    }
}
