use super::*;

const LOG: &str = "\
============================= test session starts ==============================
collected 7 items

=================================== FAILURES ===================================
___________________________________ test_div ___________________________________

    def test_div():
>       assert div(1, 0) == 0
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
E       ZeroDivisionError: division by zero

___________________________________ test_sub ___________________________________

>       assert sub(1, 2) == 1
E       assert -1 == 1
=========================== short test summary info ============================
FAILED tests/test_math.py::test_div - ZeroDivisionError: division by zero
========================= 2 failed, 5 passed in 0.31s ==========================
";

#[test]
fn one_trace_per_header() {
    let t = extract(LOG);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].key, "test_div");
    assert!(t[0].text.starts_with("    def test_div():"));
    assert!(
        t[0].text
            .ends_with("E       ZeroDivisionError: division by zero")
    );
    assert!(t[0].text.contains("_ _ _"));
    assert_eq!(t[1].key, "test_sub");
    assert_eq!(
        t[1].text,
        ">       assert sub(1, 2) == 1\nE       assert -1 == 1"
    );
    assert!(!t[1].truncated);
}

#[test]
fn section_without_headers_is_one_log_trace() {
    let t = extract("=== FAILURES ===\n\nboom\nbang\n=== 1 failed in 0.1s ===\n");
    assert_eq!(
        t,
        vec![Trace {
            key: "log".into(),
            text: "boom\nbang".into(),
            truncated: false
        }]
    );
}

#[test]
fn no_section_no_traces() {
    assert!(extract("==== 3 passed in 0.1s ====\n___ test_x ___\n").is_empty());
    assert!(extract("").is_empty());
}

#[test]
fn repeated_names_get_suffixes_and_errors_section_counts() {
    let log = "=== FAILURES ===\n___ test_a ___\nx\n___ test_a ___\ny\n\
               === ERRORS ===\n___ ERROR at setup of test_a ___\nz\n";
    let keys: Vec<String> = extract(log).into_iter().map(|t| t.key).collect();
    assert_eq!(keys, ["test_a", "test_a#2", "ERROR at setup of test_a"]);
}

#[test]
fn long_traces_and_names_are_cut() {
    let name = "n".repeat(2000);
    let body = "é".repeat(MAX_TRACE_BYTES);
    let t = extract(&format!("=== FAILURES ===\n___ {name} ___\n{body}\n"));
    assert_eq!(t[0].key.len(), MAX_KEY_BYTES);
    assert!(t[0].truncated && t[0].text.len() <= MAX_TRACE_BYTES);
}
