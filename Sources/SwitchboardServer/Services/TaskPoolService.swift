import ServiceLifecycle
import SwitchboardCore

/// Runs a `TaskPool` for the server's lifetime: on graceful shutdown the pool ends, cancelling the
/// tasks still running, and the service returns once they ended.
struct TaskPoolService: Service {
    let pool: TaskPool

    func run() async {
        await withGracefulShutdownHandler {
            await pool.run()
        } onGracefulShutdown: {
            pool.finish()
        }
    }
}
