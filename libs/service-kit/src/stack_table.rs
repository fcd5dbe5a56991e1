//! The service table of deploy/services.table (name, default port, database, default snowflake
//! node id), parsed at compile time. The file is the one place these are written: scripts/lib.sh
//! reads it line by line, and every Rust reader uses this module — the services' `SPEC`
//! ([`crate::ServiceSpec::from_table`]), tools/loadgen's stack, tools/ops-console's local
//! services and the e2e tests.
//!
//! The parser is `const`, so [`SERVICES`] and [`row`] are constants: a malformed line, a
//! duplicate name, port or node id, or a `SPEC` naming a service the table lacks stops the
//! build instead of surfacing at run time.

/// One line of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceRow {
    /// The service (and binary) name, e.g. `order-service`.
    pub name: &'static str,
    /// The port it listens on unless `PORT` says otherwise.
    pub port: u16,
    /// Its database (`-` in the file: none).
    pub database: Option<&'static str>,
    /// Its `SNOWFLAKE_NODE_ID` unless configured otherwise; unique, `0..=1023`.
    pub node_id: u16,
}

impl ServiceRow {
    /// `http://127.0.0.1:<port>`: where the service listens on `just up`'s stack, the default
    /// of the peer URLs a service reads (e.g. order-service's `CATALOG_URL`).
    pub fn local_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// The file as written, for readers that want the comments too.
pub const TEXT: &str = include_str!("../../../deploy/services.table");

const COUNT: usize = count_rows(TEXT);
const ROWS: [ServiceRow; COUNT] = parse(TEXT);

/// Every service, in the order of the file.
pub const SERVICES: &[ServiceRow] = &ROWS;

/// The row of `name`; in a `const` context a missing service fails the build.
pub const fn row(name: &str) -> ServiceRow {
    let mut i = 0;
    while i < ROWS.len() {
        if str_eq(ROWS[i].name, name) {
            return ROWS[i];
        }
        i += 1;
    }
    panic!("deploy/services.table has no service of that name")
}

/// The row of `name`, `None` when the table has no such service.
pub fn get(name: &str) -> Option<&'static ServiceRow> {
    SERVICES.iter().find(|s| s.name == name)
}

const fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// `text[start..end]`; `const` has no string slicing, so through the bytes. The bounds are
/// always at ASCII whitespace or the ends, so the slice is valid UTF-8.
const fn slice(text: &'static str, start: usize, end: usize) -> &'static str {
    let (_, rest) = text.as_bytes().split_at(start);
    let (part, _) = rest.split_at(end - start);
    match core::str::from_utf8(part) {
        Ok(s) => s,
        Err(_) => panic!("deploy/services.table: a column splits a UTF-8 character"),
    }
}

/// The end (exclusive) of the line starting at `start`.
const fn line_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start;
    while i < bytes.len() && bytes[i] != b'\n' {
        i += 1;
    }
    i
}

/// The up to five whitespace-separated columns of a line; the count says how many it had.
const fn columns(line: &'static str) -> ([&'static str; 5], usize) {
    let bytes = line.as_bytes();
    let mut out = [""; 5];
    let mut n = 0;
    let mut i = 0;
    while i < bytes.len() {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == bytes.len() {
            break;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if n < out.len() {
            out[n] = slice(line, start, i);
        }
        n += 1;
    }
    (out, n)
}

/// A service line: neither blank nor a comment.
const fn is_row(line: &'static str) -> bool {
    let (cols, n) = columns(line);
    n > 0 && cols[0].as_bytes()[0] != b'#'
}

const fn count_rows(text: &'static str) -> usize {
    let bytes = text.as_bytes();
    let (mut pos, mut n) = (0, 0);
    while pos < bytes.len() {
        let end = line_end(bytes, pos);
        if is_row(slice(text, pos, end)) {
            n += 1;
        }
        pos = end + 1;
    }
    n
}

const fn number(text: &str) -> u16 {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 5 {
        panic!("deploy/services.table: a port or node id is not a number of 1 to 5 digits");
    }
    let mut value: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            panic!("deploy/services.table: a port or node id is not a number");
        }
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    if value > u16::MAX as u32 {
        panic!("deploy/services.table: a port or node id is above 65535");
    }
    value as u16
}

const fn parse_row(line: &'static str) -> ServiceRow {
    let (cols, n) = columns(line);
    if n != 4 {
        panic!(
            "deploy/services.table: a line without exactly 4 columns (service port database node)"
        );
    }
    let node_id = number(cols[3]);
    if node_id > 1023 {
        panic!("deploy/services.table: a node id above 1023 (the snowflake layout has 10 bits)");
    }
    ServiceRow {
        name: cols[0],
        port: number(cols[1]),
        database: if str_eq(cols[2], "-") {
            None
        } else {
            Some(cols[2])
        },
        node_id,
    }
}

const fn parse<const N: usize>(text: &'static str) -> [ServiceRow; N] {
    let placeholder = ServiceRow {
        name: "",
        port: 0,
        database: None,
        node_id: 0,
    };
    let mut rows = [placeholder; N];
    let bytes = text.as_bytes();
    let (mut pos, mut n) = (0, 0);
    while pos < bytes.len() {
        let end = line_end(bytes, pos);
        let line = slice(text, pos, end);
        if is_row(line) {
            rows[n] = parse_row(line);
            n += 1;
        }
        pos = end + 1;
    }
    check_unique(&rows);
    rows
}

/// Two services cannot share a name, a port or a node id (ids would collide).
const fn check_unique(rows: &[ServiceRow]) {
    let mut i = 0;
    while i < rows.len() {
        let mut j = i + 1;
        while j < rows.len() {
            if str_eq(rows[i].name, rows[j].name) {
                panic!("deploy/services.table: a service is listed twice");
            }
            if rows[i].port == rows[j].port {
                panic!("deploy/services.table: two services share a port");
            }
            if rows[i].node_id == rows[j].node_id {
                panic!("deploy/services.table: two services share a node id");
            }
            j += 1;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_service_once() {
        let names: Vec<&str> = SERVICES.iter().map(|s| s.name).collect();
        assert_eq!(
            names,
            [
                "order-service",
                "catalog-service",
                "wallet-service",
                "seller-service",
                "hot-catalog-service",
                "catalog-review-service",
                "catalog-like-service",
                "order-query-service",
                "psp-sandbox",
            ]
        );
        // scripts/lib.sh numbered the nodes by position before the table had the column.
        for (i, s) in SERVICES.iter().enumerate() {
            assert_eq!(usize::from(s.node_id), i + 1, "{}", s.name);
        }
    }

    #[test]
    fn rows_are_found_by_name() {
        const ORDER_QUERY: ServiceRow = row("order-query-service");
        assert_eq!(
            ORDER_QUERY,
            ServiceRow {
                name: "order-query-service",
                port: 8087,
                database: Some("paymsa_order_query"),
                node_id: 8,
            }
        );
        assert_eq!(get("psp-sandbox").map(|s| s.port), Some(8090));
        assert_eq!(ORDER_QUERY.local_url(), "http://127.0.0.1:8087");
        assert_eq!(get("no-such-service"), None);
    }

    #[test]
    fn lines_parse_with_any_spacing_and_comments() {
        const TEXT: &str = "# a comment\n\n a-service\t8000  -   12\r\nb 9 db_b 0\n";
        const ROWS: [ServiceRow; count_rows(TEXT)] = parse(TEXT);
        assert_eq!(
            ROWS,
            [
                ServiceRow {
                    name: "a-service",
                    port: 8000,
                    database: None,
                    node_id: 12,
                },
                ServiceRow {
                    name: "b",
                    port: 9,
                    database: Some("db_b"),
                    node_id: 0,
                },
            ]
        );
    }
}
