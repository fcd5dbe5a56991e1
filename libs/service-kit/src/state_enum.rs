//! [`state_enum!`](crate::state_enum): a state or kind column as a Rust enum, its text written
//! once per value. Before it, every such enum (services/order-service/src/status.rs,
//! services/wallet-service/src/payouts/status.rs, …) repeated the same `ALL` / `as_str` /
//! `parse` / `Display` code and named each value twice — in `as_str` and, through
//! `rename_all`, in the sqlx and OpenAPI derives — with nothing keeping the two equal.

/// Declares an enum stored as `text` and answered as an OpenAPI string enum, with `ALL`,
/// `as_str`, `parse` and `Display`; each value's text is the literal after `=`, used by all of
/// them. Doc comments on the enum and its values become the schema's descriptions.
///
/// ```
/// service_kit::state_enum! {
///     /// A light.
///     pub enum Light {
///         /// Stop.
///         Red = "RED",
///         Green = "GREEN",
///     }
/// }
/// assert_eq!(Light::parse("GREEN"), Some(Light::Green));
/// assert_eq!(Light::Red.to_string(), "RED");
/// assert_eq!(Light::ALL.len(), 2);
/// ```
#[macro_export]
macro_rules! state_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::sqlx::Type, ::poem_openapi::Enum)]
        #[sqlx(type_name = "text")]
        $vis enum $name {
            $( $(#[$vmeta])* #[sqlx(rename = $text)] #[oai(rename = $text)] $variant ),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The stored (and answered) text.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value of a stored text; `None` for a text the enum does not know.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
