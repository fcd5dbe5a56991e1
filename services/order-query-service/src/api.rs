//! The seed's two read endpoints: a member's orders, keyset-paged, and one order of a member.

use poem_openapi::{
    param::{Path, Query},
    payload::Json,
    OpenApi, Tags,
};
use service_kit::{
    auth::{self, Identity},
    ApiError, Id,
};
use sqlx::{PgPool, Postgres, Transaction};

use crate::{
    cancels, cursor,
    store::{self, ViewRow},
    views::{self, Cancels, Order, OrderPage},
};

#[derive(Tags)]
enum OrderQueryTag {
    /// Members' order history (read model fed by payment and wallet events).
    Orders,
}

pub struct OrderQueryApi {
    pub pool: PgPool,
}

/// Views and lines come from two statements; one snapshot keeps them consistent with each
/// other even while the projection commits in between.
async fn snapshot(pool: &PgPool) -> Result<Transaction<'static, Postgres>, ApiError> {
    Ok(service_kit::db::snapshot(pool).await?)
}

fn event_nos(views: &[ViewRow]) -> Vec<i64> {
    views.iter().map(|v| v.payment_event_no).collect()
}

#[OpenApi(tag = "OrderQueryTag::Orders")]
impl OrderQueryApi {
    /// A member's orders, newest first, keyset-paged (the seed's call).
    ///
    /// Whole orders (with their lines) per page. Without a cursor: the first page. With
    /// `paymentEventNo` + `createdDateTime` (both, copied from the previous page's
    /// `nextCursor`): the page after it. Every order appears exactly once across the pages,
    /// also when many share the same `createdDateTime`.
    #[oai(
        path = "/api/orders/members/:memberNo",
        method = "get",
        operation_id = "list_member_orders"
    )]
    async fn list_member_orders(
        &self,
        identity: Identity,
        #[oai(name = "memberNo")] member_no: Path<Id>,
        /// Cursor, part 1: `nextCursor.paymentEventNo` of the previous page.
        #[oai(
            name = "paymentEventNo",
            example = "crate::examples::cursor_payment_event_no"
        )]
        payment_event_no: Query<Option<String>>,
        /// Cursor, part 2: `nextCursor.createdDateTime`, as epoch milliseconds or ISO-8601.
        #[oai(
            name = "createdDateTime",
            example = "crate::examples::cursor_created_date_time"
        )]
        created_date_time: Query<Option<String>>,
        /// Orders per page, 1-100 (default 10).
        limit: Query<Option<String>>,
    ) -> Result<Json<OrderPage>, ApiError> {
        auth::require_member_or_admin(&identity, member_no.0 .0)?;
        let request = cursor::page_request(
            payment_event_no.0.as_deref(),
            created_date_time.0.as_deref(),
            limit.0.as_deref(),
        )?;
        let member_no = member_no.0 .0;
        // One more than asked for, to know whether a next page exists without an empty last page.
        let fetch = request.limit + 1;
        let mut tx = snapshot(&self.pool).await?;
        let rows = match request.after {
            None => store::first_page(&mut tx, member_no, fetch).await?,
            Some(c) => {
                store::page_after(&mut tx, member_no, c.created_at, c.payment_event_no, fetch)
                    .await?
            }
        };
        let limit = usize::try_from(request.limit).unwrap_or(usize::MAX);
        let shown = rows.len().min(limit);
        let shown_nos = event_nos(&rows[..shown]);
        let lines = store::lines_of(&mut tx, &shown_nos).await?;
        let (cancel_rows, cancel_lines) = cancels::cancels_of(&mut tx, &shown_nos).await?;
        tx.commit().await?;
        let cancels = Cancels::new(cancel_rows, cancel_lines);
        Ok(Json(views::page(rows, lines, cancels, limit)?))
    }

    /// One order of a member (the seed's call).
    ///
    /// 404 when there is no such order or it is another member's (the answer does not reveal
    /// which).
    #[oai(
        path = "/api/orders/payment-events/:paymentEventNo/members/:memberNo",
        method = "get",
        operation_id = "get_member_order"
    )]
    async fn get_member_order(
        &self,
        identity: Identity,
        #[oai(name = "paymentEventNo")] payment_event_no: Path<Id>,
        #[oai(name = "memberNo")] member_no: Path<Id>,
    ) -> Result<Json<Order>, ApiError> {
        auth::require_member_or_admin(&identity, member_no.0 .0)?;
        let (event_no, member_no) = (payment_event_no.0 .0, member_no.0 .0);
        let mut tx = snapshot(&self.pool).await?;
        let Some(row) = store::find_order(&mut tx, event_no, member_no).await? else {
            return Err(ApiError::not_found(
                "ORDER_NOT_FOUND",
                format!("member {member_no} has no order with payment event {event_no}"),
            ));
        };
        let lines = store::lines_of(&mut tx, &[event_no]).await?;
        let (cancel_rows, cancel_lines) = cancels::cancels_of(&mut tx, &[event_no]).await?;
        tx.commit().await?;
        let cancels = Cancels::new(cancel_rows, cancel_lines);
        let mut orders = views::orders(vec![row], lines, cancels)?;
        orders
            .pop()
            .map(Json)
            .ok_or_else(|| ApiError::internal("an order view vanished while being assembled"))
    }
}
