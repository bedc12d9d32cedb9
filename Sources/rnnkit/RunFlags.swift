import ArgumentParser
import RNNKit

/// The budget, optimizer and run flags of the `train` commands whose options are
/// `StepTrainingOptions` (`train text`, `train seq2seq`): set alike, refused alike on `--resume`.
struct RunFlags: ParsableArguments {
    @Option(help: "Passes over the training data.") var epochs: Int?
    @Option(help: "Optimizer steps instead of epochs.") var steps: Int?
    @Option(help: "sgd, momentum, adam or rmsprop.") var optimizer: OptimizerKind?
    @Option(help: "Learning rate.") var lr: Double?
    @Option(help: "Clip gradients to this global norm (0: no clipping).") var clip: Double?
    @Option(help: "Raise the learning rate linearly over the first N steps (Goyal et al.'s warm-up for large batches).")
    var warmup: Int?
    @Flag(name: .customLong("scale-lr"), help: "Multiply --lr by the number of ranks (the linear scaling rule, for when --batch grows with them).")
    var scaleLR = false
    @Option(name: .customLong("eval-every"), help: "Also evaluate and save every N steps.") var evalEvery: Int?
    @Option(help: "Seed of every random draw.") var seed: UInt64?
    @Option(help: "Checkpoint folder (default: runs/<task>-<date>-<time>).") var out: String?
    @Option(help: "Continue the run saved in this folder.") var resume: String?
    @Flag(name: .customLong("skip-non-finite"), help: "Skip a step whose loss or gradients are NaN or infinite instead of stopping.")
    var skipNonFinite = false
    @Flag(help: "End with one line of JSON holding the results.") var json = false
    @Flag(help: "Train one model on the ranks of an MPI job (mpirun -np N rnnkit train ...); --batch stays global.")
    var distributed = false

    func validate() throws {
        if epochs != nil && steps != nil { throw ValidationError("--epochs and --steps both set the budget; give one of them.") }
        for (name, value) in [("--epochs", epochs), ("--steps", steps), ("--eval-every", evalEvery), ("--warmup", warmup)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be at least 1 (found \(value)).") }
        }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number (found \(lr)).") }
    }

    /// With `--resume`, refuses the command's setup flags (`fixed`, listed first) and these that
    /// would change the saved run.
    func rejectSetupFlags(_ fixed: [(String, Bool)], allowed: String) throws {
        try rejectOnResume(fixed + [("--optimizer", optimizer != nil), ("--clip", clip != nil), ("--warmup", warmup != nil),
                                    ("--scale-lr", scaleLR), ("--eval-every", evalEvery != nil), ("--seed", seed != nil)],
                           allowed: "--epochs or --steps, --lr, --skip-non-finite, --out, --json" + allowed)
    }

    /// `options` with the flags given applied.
    func apply<Options: StepTrainingOptions>(to options: inout Options) {
        if let epochs { options.epochs = epochs; options.steps = nil }
        if let steps { options.steps = steps }
        if let optimizer, optimizer != options.optimizer.kind {
            options.optimizer = OptimizerConfiguration(kind: optimizer, learningRate: options.optimizer.learningRate)
        }
        if let lr { options.optimizer.learningRate = lr }
        if scaleLR { options.optimizer.learningRate *= Double(ProcessGroup.current?.size ?? 1) }
        if let warmup { options.warmupSteps = warmup }
        if let clip { options.clipNorm = clip > 0 ? clip : nil }
        if let evalEvery { options.evaluateEvery = evalEvery }
        if let seed { options.seed = seed }
        if skipNonFinite { options.skipNonFiniteSteps = true }
    }

    /// A saved run's options and progress (`resume` names its folder) with what `--resume` may change
    /// applied; refuses a folder without training state.
    func continuing<Options: StepTrainingOptions>(_ saved: Options?, _ progress: TrainingProgress?, from resume: String) throws
        -> (options: Options, progress: TrainingProgress) {
        guard var options = saved, var progress else { throw ValidationError("\(resume) holds no training state to resume from.") }
        applyOnResume(to: &options, progress: &progress)
        return (options, progress)
    }

    /// What `--resume` may change of a saved run: the budget, the learning rate, skipping.
    private func applyOnResume<Options: StepTrainingOptions>(to options: inout Options, progress: inout TrainingProgress) {
        if let epochs { options.epochs = epochs; options.steps = nil }
        if let steps { options.steps = steps }
        if let lr { options.optimizer.learningRate = lr; progress.learningRate = lr }
        if skipNonFinite { options.skipNonFiniteSteps = true }
    }
}
