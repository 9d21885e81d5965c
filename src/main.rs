use clap::Parser;

fn main() {
    let cli = switchboard::cli::Cli::parse();
    std::process::exit(switchboard::cli::run(cli));
}
