import CPlatform

/// Ctrl-C for long runs, the way training tools promise it: the first SIGINT asks the run to stop
/// after the step in flight (the CLI then saves a checkpoint, says how to resume and exits with
/// status 130); a second one ends the process at once, which cannot damage the last checkpoint
/// since checkpoints are replaced atomically.
public enum Interruption {
    /// Installs the handler. Until this is called, Ctrl-C ends the process as usual.
    public static func catchInterrupts() { rnnkit_catch_interrupts() }

    /// The handler prints no note (the ranks of a distributed run other than rank 0).
    public static func quiet() { rnnkit_quiet_interrupts() }

    /// Whether Ctrl-C has been pressed since `catchInterrupts()`.
    public static var isRequested: Bool { rnnkit_interrupt_requested() != 0 }
}
