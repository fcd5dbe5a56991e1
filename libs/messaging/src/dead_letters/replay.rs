//! `POST /admin/dead-letters/{id}/replay`: the stored message, as a delivery, through the
//! handler of the consumer that gave up on it (crate::replay), in this service's process.
//!
//! Nothing is published: no other consumer of the subject sees the message again, and no
//! publish permission on another service's subject is needed (issue 14). The letter's row lock
//! is held while the handler runs, so concurrent replays of one letter take turns; the first
//! that succeeds resolves the letter and later ones answer `ALREADY_RESOLVED` without running
//! the handler (whose dedupe may have expired by then: hot-catalog's seen-markers live 8
//! days, services/hot-catalog-service/src/ranking.rs).

use async_nats::{HeaderMap, HeaderName, HeaderValue};
use service_kit::ApiError;
use sqlx::PgPool;

use super::{
    store::{self, DeadLetter, StoredHeaders},
    views::{ReplayOutcome, ReplayResult},
};
use crate::{
    replay::{ReplayError, Replayed, Replayers, REPLAY_OF},
    Delivery, HandlerError,
};

/// The stored headers as the message had them (its `Nats-Msg-Id` too: a handler tells a
/// producer's re-drive by it, consumer.rs `is_redrive`), plus `Paymsa-Replay-Of: <id>`.
fn headers_of(stored: &StoredHeaders, id: i64) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, values) in stored {
        let Ok(header) = HeaderName::try_from(name.as_str()) else {
            continue;
        };
        for value in values {
            if let Ok(value) = value.parse::<HeaderValue>() {
                headers.append(header.clone(), value);
            }
        }
    }
    headers.insert(REPLAY_OF, id.to_string().as_str());
    headers
}

/// The delivery a replay hands the handler: one more than the deliveries the server made.
/// An envelope without a decodable header fails as it did live (consumer.rs `HandlerProcess`).
fn delivery_of(letter: &DeadLetter) -> Result<Delivery, HandlerError> {
    let event = events::decode_header(&letter.payload)?;
    Ok(Delivery {
        subject: letter.subject.clone(),
        payload: letter.payload.clone().into(),
        headers: headers_of(&letter.headers.0, letter.id),
        delivered: u64::try_from(letter.deliveries).unwrap_or(0) + 1,
        stream_seq: u64::try_from(letter.stream_seq).unwrap_or(0),
        event,
    })
}

/// Locks the letter, runs it through its consumer's handler and records the outcome.
pub(super) async fn replay(
    pool: &PgPool,
    replayers: &Replayers,
    id: i64,
) -> Result<ReplayResult, ApiError> {
    let mut tx = pool.begin().await?;
    let letter = store::get_for_update(&mut tx, id)
        .await?
        .ok_or_else(|| super::api::not_found(id))?;
    let consumer = letter.consumer.clone();
    if letter.resolved_at.is_some() {
        tx.rollback().await?;
        tracing::info!(id, %consumer, "dead letter already resolved; replay not run again");
        return Ok(ReplayResult {
            outcome: ReplayOutcome::AlreadyResolved,
            consumer,
            dead_letter: letter.into(),
        });
    }
    if letter.subject.is_empty() {
        return Err(ApiError::conflict(
            "DEAD_LETTER_NOT_REPLAYABLE",
            "the message had left its stream before it was captured",
        ));
    }
    let gone = || {
        ApiError::conflict(
            "DEAD_LETTER_CONSUMER_GONE",
            format!(
                "consumer {consumer} no longer runs in this service; its dead letter {id} \
                 cannot be replayed (running: {})",
                replayers.consumers().join(", ")
            ),
        )
    };
    if !replayers.contains(&consumer) {
        return Err(gone());
    }
    let ran = match delivery_of(&letter) {
        Ok(delivery) => replayers.run(&consumer, &delivery, id).await,
        Err(e) => Err(ReplayError::Failed(e)),
    };
    match ran {
        Ok(replayed) => {
            let updated = store::mark_resolved(&mut tx, id).await?;
            tx.commit().await?;
            Ok(ReplayResult {
                outcome: match replayed {
                    Replayed::Applied => ReplayOutcome::Applied,
                    Replayed::Duplicate => ReplayOutcome::Duplicate,
                },
                consumer,
                dead_letter: updated.into(),
            })
        }
        Err(ReplayError::UnknownConsumer(_)) => Err(gone()),
        Err(ReplayError::Failed(e)) => {
            let error = service_kit::error_chain(&e);
            let updated = store::mark_failed(&mut tx, id, &error).await?;
            tx.commit().await?;
            Err(ApiError::unprocessable(
                "DEAD_LETTER_REPLAY_FAILED",
                format!(
                    "consumer {consumer} failed again: {error}; dead letter {id} stays open \
                     (replay {}, error recorded as lastError)",
                    updated.replay_count
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replay_keeps_every_header_and_says_what_it_replays() {
        let stored = StoredHeaders::from([
            ("Nats-Msg-Id".to_string(), vec!["a-redrive-1".to_string()]),
            ("traceparent".to_string(), vec!["00-abc-def-01".to_string()]),
        ]);
        let headers = headers_of(&stored, 42);
        assert_eq!(headers.len(), 3);
        assert_eq!(
            headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some("a-redrive-1")
        );
        assert_eq!(headers.get(REPLAY_OF).map(|v| v.as_str()), Some("42"));
    }
}
