//! `--serve` for the benchmarks: timings on request, one line of standard input at a time, so
//! that a driver (`bench/compare.py`, `bench/compare_nets.py`) can make stride and ONNX Runtime
//! take turns on each configuration.

use std::error::Error;
use std::io::Write;

/// Prints the plan line, `{"plan": [ENTRIES]}`, each entry a JSON object.
pub fn plan(entries: &[String]) -> Result<(), Box<dyn Error>> {
    println!("{{\"plan\": [{}]}}", entries.join(", "));
    std::io::stdout().flush()?;
    Ok(())
}

/// Runs `answer` on each line of standard input, split into its `N` fields (`usage` names
/// them), with the pool of the thread count in the last field, until standard input ends.
pub fn requests<const N: usize>(
    usage: &str,
    mut answer: impl FnMut([&str; N], &rayon::ThreadPool) -> Result<(), Box<dyn Error>>,
) -> Result<(), Box<dyn Error>> {
    let mut pools: Vec<rayon::ThreadPool> = Vec::new();
    for line in std::io::stdin().lines() {
        let line = line?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let fields: [&str; N] = fields
            .try_into()
            .map_err(|_| format!("`{line}`: expected `{usage}`"))?;
        let threads = match fields[N - 1].parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(format!("`{line}`: the thread count is a whole number above 0").into());
            }
        };
        let pool = match pools
            .iter()
            .position(|p| p.current_num_threads() == threads)
        {
            Some(index) => &pools[index],
            None => {
                pools.push(
                    rayon::ThreadPoolBuilder::new()
                        .num_threads(threads)
                        .build()?,
                );
                &pools[pools.len() - 1]
            }
        };
        answer(fields, pool)?;
        std::io::stdout().flush()?;
    }
    Ok(())
}
