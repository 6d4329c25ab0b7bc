//! Rebuilds the SDK when the WIT package changes: the bindings are generated from `../../wit`
//! by a macro, and cargo does not see the files a macro reads.

fn main() {
    println!("cargo:rerun-if-changed=../../wit");
}
