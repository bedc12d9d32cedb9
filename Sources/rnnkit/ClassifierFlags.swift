import ArgumentParser
import RNNKit

/// The model and training flags every supervised `train` task shares (`train mnist`, `train sequences`).
struct ClassifierFlags: ParsableArguments {
    @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu.") var cell: CellOption?
    @Option(help: "Units per direction.") var hidden: Int?
    @Option(help: "Stacked layers.") var layers: Int?
    @Flag(help: "Read each sequence from both ends too.") var bidirectional = false
    @Option(help: "Dropout rate after each recurrent layer (TF1 DropoutWrapper output_keep_prob = 1 − rate).")
    var dropout: Double?
    @Option(help: "Dense projection of every step to this size before the recurrent stack (seed 004).") var projection: Int?
    @Option(help: "What feeds the classifier: last (output at the last step) or final (final hidden states).")
    var readout: Readout?
    @Option(help: "Passes over the training set.") var epochs: Int?
    @Option(help: "Train on this many examples instead of whole epochs.") var samples: Int?
    @Option(help: "Examples per step.") var batch: Int?
    @Option(help: "sgd, momentum, adam or rmsprop.") var optimizer: OptimizerKind?
    @Option(help: "Learning rate.") var lr: Double?
    @Flag(help: "Nesterov momentum (with --optimizer momentum).") var nesterov = false
    @Option(name: .customLong("lr-decay"), help: "Multiply the learning rate by this after every epoch.") var lrDecay: Double?
    @Option(help: "Clip gradients to this global norm.") var clip: Double?
    @Option(help: "Raise the learning rate linearly over the first N steps (Goyal et al.'s warm-up for large batches).")
    var warmup: Int?
    @Flag(name: .customLong("scale-lr"), help: "Multiply --lr by the number of ranks (the linear scaling rule, for when --batch grows with them).")
    var scaleLR = false
    @Option(help: "Held out for validation: training examples (mnist: 5,000, or a twelfth of a set under 10,000; sequences: a tenth), or for forecast the steps before the test span.")
    var validation: Int?
    @Option(help: "Seed of every random draw (weights, order, dropout).") var seed: UInt64?
    @Option(help: "Checkpoint folder (default: runs/<task>-<date>-<time>).") var out: String?
    @Option(help: "Continue the run saved in this folder.") var resume: String?
    @Flag(name: .customLong("skip-non-finite"), help: "Skip a step whose loss or gradients are NaN or infinite instead of stopping.")
    var skipNonFinite = false
    @Flag(help: "End with one line of JSON holding the results.") var json = false
    @Flag(help: "Train one model on the ranks of an MPI job (mpirun -np N rnnkit train ...); --batch stays the global batch.")
    var distributed = false


    func validate() throws {
        if epochs != nil && samples != nil {
            throw ValidationError("--epochs and --samples both set the training budget; give one of them.")
        }
        for (name, value) in [("--hidden", hidden), ("--layers", layers), ("--projection", projection), ("--epochs", epochs),
                              ("--samples", samples), ("--batch", batch), ("--warmup", warmup)] {
            if let value, value <= 0 { throw ValidationError("\(name) must be at least 1 (found \(value)).") }
        }
        if let dropout, !(dropout >= 0 && dropout < 1) {
            throw ValidationError("--dropout must be a rate in [0, 1) (found \(dropout)); TF1's keep_prob k is rate 1 − k.")
        }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number (found \(lr)).") }
        if nesterov && optimizer != .momentum {
            throw ValidationError("--nesterov applies to --optimizer momentum.")
        }
        if let validation, validation < 0 { throw ValidationError("--validation must be 0 or more (found \(validation)).") }
        if resume != nil { try rejectSetupFlags() }
    }

    /// With `--resume`, refuses every flag that would change the saved run's setup (`also`: the
    /// command's own, listed first).
    func rejectSetupFlags(also extra: [(String, Bool)] = []) throws {
        let fixed: [(String, Bool)] = extra + [
            ("--cell", cell != nil), ("--hidden", hidden != nil), ("--layers", layers != nil),
            ("--bidirectional", bidirectional), ("--projection", projection != nil), ("--readout", readout != nil),
            ("--dropout", dropout != nil), ("--batch", batch != nil), ("--optimizer", optimizer != nil), ("--nesterov", nesterov),
            ("--lr-decay", lrDecay != nil), ("--clip", clip != nil), ("--warmup", warmup != nil), ("--scale-lr", scaleLR), ("--validation", validation != nil), ("--seed", seed != nil),
        ]
        try rejectOnResume(fixed, allowed: "--epochs or --samples, --lr, --skip-non-finite, --data, --out and --json")
    }

    /// `base` (a preset's or a task's defaults) with the flags given applied.
    func apply(to base: (SequenceClassifierConfiguration, TrainingOptions)) -> (SequenceClassifierConfiguration, TrainingOptions) {
        var (model, training) = base
        var r = model.recurrent
        if let cell {
            r.cell = cell.cell
            if cell != .lstm { r.forgetBias = 0 }
        }
        if let hidden { r.hiddenSize = hidden }
        if let layers { r.numLayers = layers }
        if bidirectional { r.isBidirectional = true }
        if let dropout {
            r.dropout = dropout
            r.outputDropout = dropout
        }
        if let projection { model.projection = projection }
        r.inputSize = model.projection ?? model.features
        model.recurrent = r
        if let readout { model.readout = readout }
        if let epochs {
            training.epochs = epochs
            training.samples = nil
        }
        if let samples { training.samples = samples }
        if let batch { training.batchSize = batch }
        if let optimizer, optimizer != training.optimizer.kind {
            training.optimizer = OptimizerConfiguration(kind: optimizer, learningRate: Self.defaultLearningRate(optimizer))
        }
        if let lr { training.optimizer.learningRate = lr }
        if scaleLR { training.optimizer.learningRate *= Double(ProcessGroup.current?.size ?? 1) }
        if let warmup { training.warmupSteps = warmup }
        if nesterov { training.optimizer.nesterov = true }
        if let lrDecay { training.learningRateDecay = lrDecay }
        if let clip { training.clipNorm = clip }
        if let validation { training.validationCount = validation }
        if let seed { training.seed = seed }
        if skipNonFinite { training.skipNonFiniteSteps = true }
        return (model, training)
    }

    /// A saved run's configuration, options and progress, with what `--resume` may change applied
    /// (the configuration carries the changed options).
    func continuing(_ loaded: ClassifierCheckpoint.Loaded, from resume: String) throws
        -> (checkpoint: CheckpointConfiguration, options: TrainingOptions, progress: TrainingProgress) {
        guard var options = loaded.configuration.training, var progress = loaded.progress else {
            throw ValidationError("\(resume) holds no training state to resume from.")
        }
        applyOnResume(&options, &progress)
        var checkpoint = loaded.configuration
        checkpoint.training = options
        return (checkpoint, options, progress)
    }

    /// The flags `--resume` may change: the budget, the learning rate, skipping.
    private func applyOnResume(_ options: inout TrainingOptions, _ progress: inout TrainingProgress) {
        if let epochs { options.epochs = epochs; options.samples = nil }
        if let samples { options.samples = samples }
        if let lr { options.optimizer.learningRate = lr; progress.learningRate = lr }
        if skipNonFinite { options.skipNonFiniteSteps = true }
    }

    private static func defaultLearningRate(_ kind: OptimizerKind) -> Double {
        switch kind {
        case .sgd, .momentum: 0.01
        case .adam, .rmsprop: 1e-3
        }
    }
}
