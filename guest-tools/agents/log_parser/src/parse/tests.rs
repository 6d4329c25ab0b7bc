use super::*;

const TWO_FAILED: &str = "\
============================= test session starts ==============================
collected 7 items

tests/test_math.py ..F.F..                                               [100%]

=================================== FAILURES ===================================
___________________________________ test_div ___________________________________

    def test_div():
>       assert div(1, 0) == 0
E       ZeroDivisionError: division by zero

tests/test_math.py:12: ZeroDivisionError
=========================== short test summary info ============================
FAILED tests/test_math.py::test_div - ZeroDivisionError: division by zero
FAILED tests/test_math.py::test_sub - assert 1 == -1
========================= 2 failed, 5 passed in 0.31s ==========================
";

fn failure(test: &str, error: &str) -> TestFailure {
    TestFailure {
        test: test.to_owned(),
        error: error.to_owned(),
    }
}

#[test]
fn two_failures_and_summary() {
    let r = parse(TWO_FAILED);
    assert_eq!(
        r.failed,
        vec![
            failure(
                "tests/test_math.py::test_div",
                "ZeroDivisionError: division by zero"
            ),
            failure("tests/test_math.py::test_sub", "assert 1 == -1"),
        ]
    );
    assert_eq!(
        (r.failed_count, r.passed, r.error_count, r.skipped),
        (2, 5, 0, 0)
    );
    assert_eq!(r.duration_s, Some(0.31));
    assert!(r.summary_found);
}

#[test]
fn one_failed() {
    let r = parse("FAILED t.py::test_a - AssertionError\n==== 1 failed in 0.02s ====\n");
    assert_eq!(r.failed, vec![failure("t.py::test_a", "AssertionError")]);
    assert_eq!((r.failed_count, r.passed), (1, 0));
    assert_eq!(r.duration_s, Some(0.02));
}

#[test]
fn only_passed() {
    let r = parse("==== 12 passed, 1 skipped, 2 warnings in 1.50s (0:00:01) ====\n");
    assert!(r.failed.is_empty());
    assert_eq!((r.failed_count, r.passed, r.skipped), (0, 12, 1));
    assert_eq!(r.duration_s, Some(1.5));
}

#[test]
fn errors_are_counted_and_listed() {
    let log = "ERROR tests/test_db.py::test_q - fixture 'db' not found\n\
               ERROR tests/test_broken.py - ImportError: no module\n\
               ==== 1 failed, 3 passed, 2 errors in 0.40s ====\n";
    let r = parse(log);
    assert_eq!(r.errors.len(), 2);
    assert_eq!(
        r.errors[1],
        failure("tests/test_broken.py", "ImportError: no module")
    );
    assert_eq!((r.failed_count, r.passed, r.error_count), (1, 3, 2));
}

#[test]
fn missing_summary_counts_lines() {
    let r = parse("FAILED a.py::t1 - x\nFAILED a.py::t2\nsomething else\n");
    assert!(!r.summary_found);
    assert_eq!(r.failed_count, 2);
    assert_eq!(r.failed[1], failure("a.py::t2", ""));
    assert_eq!(r.duration_s, None);
    assert_eq!(r.passed, 0);
}

#[test]
fn empty_log() {
    let r = parse("");
    assert!(r.failed.is_empty() && !r.summary_found);
    assert_eq!(r.failed_count, 0);
}

#[test]
fn quiet_summary_old_style_and_no_tests() {
    assert_eq!(parse("3 passed in 0.5 seconds\n").passed, 3);
    let r = parse("============ no tests ran in 0.01s ============\n");
    assert!(r.summary_found);
    assert_eq!(r.duration_s, Some(0.01));
}

#[test]
fn last_summary_wins_and_prose_is_not_a_summary() {
    let log = "==== 1 failed in 1.00s ====\nwe ran 2 tests in 3s\n==== 4 passed in 2.00s ====\n";
    let r = parse(log);
    assert_eq!((r.failed_count, r.passed), (0, 4));
    assert_eq!(r.duration_s, Some(2.0));
}

#[test]
fn parametrised_ids_ansi_and_crlf() {
    let log = "\u{1b}[31mFAILED\u{1b}[0m t.py::test_p[1 - 2] - assert 3 == -1\r\n\
               \u{1b}[31m==== 1 failed in 0.10s ====\u{1b}[0m\r\n";
    let r = parse(log);
    assert_eq!(
        r.failed,
        vec![failure("t.py::test_p[1 - 2]", "assert 3 == -1")]
    );
    assert_eq!(r.duration_s, Some(0.1));
}

#[test]
fn captured_log_lines_are_not_errors() {
    let r = parse("ERROR    root:app.py:3 boom\nFAILED to connect\n");
    assert!(r.errors.is_empty() && r.failed.is_empty());
}

#[test]
fn unbalanced_brackets_do_not_panic() {
    let r = parse("FAILED t.py::test_p[1 - 2 - boom\nFAILED [ - ]\nERROR ]] - [[\n");
    assert_eq!(r.failed.len(), 1);
}
