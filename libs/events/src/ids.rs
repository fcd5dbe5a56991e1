//! 64-bit ids travel as JSON strings (JavaScript loses precision above 2^53) and are accepted
//! as strings or numbers. Use with `#[serde(with = "events::ids::string")]`, or use a newtype
//! below: it has the same wire format and, with the `sqlx` feature, is a `bigint` column.

pub mod string {
    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(id: &i64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        struct IdVisitor;
        impl de::Visitor<'_> for IdVisitor {
            type Value = i64;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a 64-bit id as a string or a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
                Ok(v)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
                i64::try_from(v).map_err(|_| E::custom("id out of range"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<i64, E> {
                v.trim()
                    .parse()
                    .map_err(|_| E::custom(format!("invalid id {v:?}")))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

/// A 64-bit id newtype: written as a JSON string and read from a string or a number (like
/// [`string`]), shown as the bare number, and (feature `sqlx`) stored as the `bigint` it wraps.
macro_rules! id_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[serde(transparent)]
        pub struct $name(#[serde(with = "string")] pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_newtype!(
    /// A seller's number (seller-service's `sellers.seller_no`; events' `sellerNo`).
    SellerNo
);
id_newtype!(
    /// A seller's wallet (wallet-service's `wallets.wallet_no`; events' `walletNo`).
    WalletNo
);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Bare(#[serde(with = "string")] i64);

    #[test]
    fn newtypes_have_the_wire_format_of_bare_ids() {
        let big = 9_007_199_254_740_993_i64;
        let typed = serde_json::to_string(&SellerNo(big)).expect("serializes");
        assert_eq!(
            typed,
            serde_json::to_string(&Bare(big)).expect("serializes")
        );
        assert_eq!(typed, format!("\"{big}\""));
        for json in [format!("\"{big}\""), big.to_string()] {
            let back: WalletNo = serde_json::from_str(&json).expect("decodes");
            assert_eq!(back, WalletNo(big));
        }
        assert!(serde_json::from_str::<SellerNo>("\"x\"").is_err());
        assert_eq!(SellerNo(7).to_string(), "7");
    }
}
