//! Blocking work (Git, the filesystem, reading a revision) run on Tokio's blocking pool, with a
//! task that panicked or was cancelled answered as the caller's own error. It decides nothing
//! about what runs there, nor bounds it in time (`repo::within` does, where a call needs it).

/// Runs `call` on the blocking pool; a task that did not finish is `task_failed` with why.
pub(crate) async fn on_blocking_pool<T, E>(
    call: impl FnOnce() -> Result<T, E> + Send + 'static,
    task_failed: fn(String) -> E,
) -> Result<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    tokio::task::spawn_blocking(call)
        .await
        .unwrap_or_else(|error| Err(task_failed(error.to_string())))
}
