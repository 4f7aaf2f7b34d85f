//! The `latlab` command-line tool. See `latlab --help`.
#![forbid(unsafe_code)]

mod calibrate;
mod cli;
mod context;
mod datapath;
mod lab;
mod labqueue;
mod measure;
mod model;
mod output;
mod plot;
mod probe;
mod reflect;
mod report;

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use clap::Parser;

/// Set by the first Ctrl-C: every loop stops and what was measured is written, marked partial.
pub static STOP: AtomicBool = AtomicBool::new(false);
static INTERRUPTS: AtomicU32 = AtomicU32::new(0);

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let _ = ctrlc::set_handler(|| {
        if INTERRUPTS.fetch_add(1, Ordering::SeqCst) == 0 {
            STOP.store(true, Ordering::SeqCst);
            eprintln!(
                "\ninterrupted: finishing and writing what was measured (Ctrl-C again to abort)"
            );
        } else {
            std::process::exit(130);
        }
    });
    let result = match cli.command {
        cli::Command::Lab(args) => match &args.command {
            Some(cli::LabCommand::Queue(q)) => labqueue::run(q),
            None => lab::run(&args),
        },
        cli::Command::Reflect(args) => reflect::run(&args),
        cli::Command::Probe(cli::ProbeCommand::Rtt(args)) => probe::run_rtt(&args),
        cli::Command::Calibrate(args) => calibrate::run(&args),
        cli::Command::Report(args) => report::run(&args),
        cli::Command::Model(cmd) => model::run(&cmd),
    };
    match result {
        Ok(()) if STOP.load(Ordering::SeqCst) => ExitCode::from(130),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
