use std::time::Duration;

use super::*;

#[test]
fn headers_are_numbered_in_the_whole_demo_only() {
    let plain = Style::plain();
    assert_eq!(header(&plain, 3, 14, "Pay"), "\n[3/14] Pay");
    assert_eq!(
        header(&plain, 1, 0, "The seller's wallet"),
        "\n== The seller's wallet"
    );
}

#[test]
fn a_call_line_pads_method_and_path() {
    let line = call_line(
        &Style::plain(),
        "POST",
        ":8080/api/checkouts",
        201,
        Duration::from_millis(13),
    );
    assert_eq!(
        line,
        "  → POST   :8080/api/checkouts                                            201 (13 ms)"
    );
    let long = format!(":8087/{}", "x".repeat(70));
    let line = call_line(
        &Style::plain(),
        "GET",
        &long,
        200,
        Duration::from_millis(1500),
    );
    assert_eq!(line, format!("  → GET    {long} 200 (1.50 s)"));
}

#[test]
fn the_summary_right_aligns_the_times() {
    let steps = vec![
        ("Register a seller".to_string(), Duration::from_millis(80)),
        ("Pay seller out".to_string(), Duration::from_millis(11_800)),
    ];
    let text = summary(&Style::plain(), &steps, Duration::from_millis(19_440));
    assert_eq!(
        text,
        "\nSummary\n  ✓     80 ms  Register a seller\n  ✓   11.80 s  Pay seller out\n      19.44 s  total"
    );
}

#[test]
fn a_failure_names_its_step() {
    assert_eq!(
        failed_step(4, 14, Some("Two more orders")),
        "[4/14] Two more orders"
    );
    assert_eq!(
        failed_step(1, 0, Some("The seller's wallet")),
        "The seller's wallet"
    );
    assert_eq!(failed_step(2, 14, None), "after step 2");
}
