//! Prints man/imapd.conf.5 as generated from the option table.
fn main() {
    print!("{}", conf::man::imapd_conf_page());
}
