use super::*;

#[test]
fn the_file_bash_wrote_reads_the_same() {
    let bash = "SELLER_NO=387499312273178624\nSELLER_ID=demo-seller-20261205-070355-3911\n\
P1=387499312608714752\nP2=''\nP1_PRICE=45000\nP2_PRICE=''\nMEMBER_NO=796454235\n\
LAST_ORDER_ID=934b981d-430b-4c51-a7ed-7a769bf43fdf\n";
    let state = State::parse(bash);
    assert_eq!(state.seller_no, "387499312273178624");
    assert_eq!(state.seller_id, "demo-seller-20261205-070355-3911");
    assert_eq!(state.p2, "");
    assert_eq!(state.p1_price, "45000");
    assert_eq!(state.last_order_id, "934b981d-430b-4c51-a7ed-7a769bf43fdf");
    assert_eq!(
        State::parse("SELLER_ID=my\\ shop\\'s\n").seller_id,
        "my shop's"
    );
}

#[test]
fn a_state_survives_its_file() {
    let state = State {
        seller_no: "1".into(),
        seller_id: "it's a shop".into(),
        member_no: "700000001".into(),
        ..State::default()
    };
    let text = state.render();
    assert!(
        text.starts_with("SELLER_NO=1\nSELLER_ID='it'\\''s a shop'\nP1=\n"),
        "{text}"
    );
    assert_eq!(State::parse(&text), state);
}

#[test]
fn other_lines_are_passed_over() {
    let state = State::parse("# a comment\nOTHER=1\n\nMEMBER_NO=7\nnot a pair\n");
    assert_eq!(
        state,
        State {
            member_no: "7".into(),
            ..State::default()
        }
    );
}

#[test]
fn quoting_leaves_plain_words_alone() {
    assert_eq!(quote("demo-seller-20261205-1"), "demo-seller-20261205-1");
    assert_eq!(quote(""), "");
    assert_eq!(quote("a b"), "'a b'");
    assert_eq!(unquote("'a b'"), "a b");
}
