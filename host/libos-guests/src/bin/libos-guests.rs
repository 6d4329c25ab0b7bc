//! Prints the directory of the built guest components (used by the demo script).

fn main() {
    println!("{}", libos_guests::DIR);
}
