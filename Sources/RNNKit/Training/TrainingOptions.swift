/// How to train: the budget, batch, optimizer and the rest; stored in `config.json`.
public struct TrainingOptions: Codable, Equatable, Sendable {
    /// Passes over the training set (ignored when `samples` is set).
    public var epochs: Int = 10
    /// A budget of training examples instead of epochs (the seeds' `training_iters`).
    public var samples: Int?
    public var batchSize: Int = 128
    public var optimizer = OptimizerConfiguration(kind: .adam, learningRate: 1e-3)
    /// Clip gradients to this global norm before each step.
    public var clipNorm: Double?
    /// Multiply the learning rate by this after every epoch.
    public var learningRateDecay: Double?
    public var seed: UInt64 = 0
    /// Training examples held out (from the end of the training set) for validation.
    public var validationCount: Int = 5000
    /// How the final dense layer's weight and bias are drawn (nil: PyTorch's default).
    public var fcWeightInitializer: Initializer?
    public var fcBiasInitializer: Initializer?
    /// The same for the input projection.
    public var projectionInitializer: Initializer?
    /// Skip a step whose loss or gradients are NaN or infinite (as PyTorch's `GradScaler` does)
    /// instead of stopping the run; nil means no.
    public var skipNonFiniteSteps: Bool?
    /// Raise the learning rate linearly over the first this many steps (step s at (s+1)/N of it).
    public var warmupSteps: Int?

    public init() {}

    /// Checks every option.
    public func validate() throws(RNNKitError) {
        try requirePositive(epochs, "epochs")
        if let samples { try requirePositive(samples, "samples") }
        try requirePositive(batchSize, "batchSize")
        try optimizer.validate()
        if let warmupSteps { try requirePositive(warmupSteps, "warmup") }
        if let clipNorm, !(clipNorm > 0) {
            throw .invalidValue(argument: "clip", expected: "a positive norm", found: "\(clipNorm)", hint: "Try --clip 5.")
        }
        if let d = learningRateDecay, !(d > 0 && d <= 1) {
            throw .invalidValue(argument: "lr-decay", expected: "a factor in (0, 1]", found: "\(d)", hint: "0.95 shrinks the rate 5% per epoch.")
        }
        guard validationCount >= 0 else {
            throw .invalidValue(argument: "validation", expected: "a count ≥ 0", found: "\(validationCount)", hint: "5000 is the default.")
        }
    }
}

/// The seed experiments' settings (shared design §2), by name.
public enum MNISTPreset: String, CaseIterable, Sendable {
    /// Seeds 000/001: LSTM 100 (TF1 forget bias 1.0), final h → dense (truncated normal σ 0.1, bias 0.1),
    /// Adam 1e-4, batch 50, 6 epochs.
    case seedLSTM = "seed-lstm"
    /// Seed 002: LSTM 28 (forget bias 1.0), outputs[-1] → dense (normal σ 0.01), RMSProp(0.001, decay 0.9),
    /// batch 128, 100 epochs.
    case seedLSTMRMSProp = "seed-lstm-rmsprop"
    /// Seed 003: bidirectional LSTM 256+256 (forget bias 1.0), outputs[-1] → dense (normal σ 1),
    /// Adam 0.01, batch 128, 400,000 samples.
    case seedBiLSTM = "seed-bilstm"
    /// Seed 004: dense 28 → 128 on every step (normal σ 1), LSTM 128 (forget bias 1.0) from a zero state,
    /// outputs[-1] → dense (normal σ 1), Adam 0.001, batch 128, 100,000 samples.
    case seedProjection = "seed-projection"

    /// The model and training settings of the preset for `features`-wide steps.
    public func settings(features: Int = 28, classes: Int = 10) -> (model: SequenceClassifierConfiguration, training: TrainingOptions) {
        var t = TrainingOptions()
        let model: SequenceClassifierConfiguration
        func lstm(_ input: Int, _ hidden: Int, bidirectional: Bool = false) -> RecurrentConfiguration {
            RecurrentConfiguration(cell: .lstm, inputSize: input, hiddenSize: hidden, isBidirectional: bidirectional, forgetBias: 1.0)
        }
        switch self {
        case .seedLSTM:
            model = SequenceClassifierConfiguration(features: features, recurrent: lstm(features, 100), readout: .final, classes: classes)
            t.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 1e-4)
            t.batchSize = 50
            t.epochs = 6
            t.fcWeightInitializer = .truncatedNormal(mean: 0, standardDeviation: 0.1)
            t.fcBiasInitializer = .constant(0.1)
        case .seedLSTMRMSProp:
            model = SequenceClassifierConfiguration(features: features, recurrent: lstm(features, 28), readout: .last, classes: classes)
            var o = OptimizerConfiguration(kind: .rmsprop, learningRate: 1e-3)
            o.alpha = 0.9
            t.optimizer = o
            t.epochs = 100
            t.fcWeightInitializer = .normal(mean: 0, standardDeviation: 0.01)
            t.fcBiasInitializer = .normal(mean: 0, standardDeviation: 0.01)
        case .seedBiLSTM:
            model = SequenceClassifierConfiguration(features: features, recurrent: lstm(features, 256, bidirectional: true),
                                                    readout: .last, classes: classes)
            t.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.01)
            t.samples = 400_000
            t.fcWeightInitializer = .normal(mean: 0, standardDeviation: 1)
            t.fcBiasInitializer = .normal(mean: 0, standardDeviation: 1)
        case .seedProjection:
            model = SequenceClassifierConfiguration(features: features, projection: 128, recurrent: lstm(128, 128),
                                                    readout: .last, classes: classes)
            t.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 1e-3)
            t.samples = 100_000
            t.fcWeightInitializer = .normal(mean: 0, standardDeviation: 1)
            t.fcBiasInitializer = .normal(mean: 0, standardDeviation: 1)
            t.projectionInitializer = .normal(mean: 0, standardDeviation: 1)
        }
        return (model, t)
    }
}

/// The options of a task whose budget is epochs or optimizer steps, with evaluation points every
/// so many steps (language models, encoder–decoders): what their `train` commands set alike.
public protocol StepTrainingOptions {
    var epochs: Int { get set }
    var steps: Int? { get set }
    var batchSize: Int { get set }
    var optimizer: OptimizerConfiguration { get set }
    var clipNorm: Double? { get set }
    var seed: UInt64 { get set }
    var evaluateEvery: Int? { get set }
    var skipNonFiniteSteps: Bool? { get set }
    var warmupSteps: Int? { get set }
}

extension StepTrainingOptions {
    /// What the training loop needs of these options.
    public var schedule: TrainingSchedule {
        TrainingSchedule(epochs: epochs, steps: steps, optimizer: optimizer, clipNorm: clipNorm, seed: seed, evaluateEvery: evaluateEvery,
                         skipNonFiniteSteps: skipNonFiniteSteps == true, warmupSteps: warmupSteps)
    }
}
