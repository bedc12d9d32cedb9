import ArgumentParser
import Foundation
import RNNKit

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model.",
        subcommands: [TrainMNIST.self, CharLMTrain.self]
    )
}

enum CellOption: String, ExpressibleByArgument, CaseIterable {
    case lstm, gru, rnn, rnnRelu = "rnn-relu"
    var cell: RecurrentCell {
        switch self {
        case .lstm: .lstm
        case .gru: .gru
        case .rnn: .rnnTanh
        case .rnnRelu: .rnnRelu
        }
    }
}

extension Readout: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

struct TrainMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist",
        abstract: "Train a recurrent classifier that reads MNIST-format images row by row (28 steps of 28 pixels).",
        discussion: """
        Defaults: LSTM 128, one layer, Adam 1e-3, batch 128, 10 epochs, seed 0, on Fashion-MNIST from
        \(MNIST.defaultDirectory). A preset sets a seed experiment's settings; flags given with it override them.
        Presets: \(MNISTPreset.allCases.map(\.rawValue).joined(separator: ", ")).
        """
    )

    @Option(help: "Folder with the four MNIST files, raw or .gz (default: \(MNIST.defaultDirectory), or the resumed run's).")
    var data: String?
    @Option(help: "A seed experiment's settings: \(MNISTPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: String?
    @Option(help: "Recurrent cell: lstm, gru, rnn (tanh) or rnn-relu.") var cell: CellOption?
    @Option(help: "Units per direction.") var hidden: Int?
    @Option(help: "Stacked layers.") var layers: Int?
    @Flag(help: "Read each image from both ends.") var bidirectional = false
    @Option(help: "Dropout rate after each recurrent layer (TF1 DropoutWrapper output_keep_prob = 1 − rate).")
    var dropout: Double?
    @Option(help: "Dense projection of every row to this size before the recurrent stack (seed 004).") var projection: Int?
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
    @Option(help: "Training examples held out for validation (default 5,000, or a twelfth of a set under 10,000).") var validation: Int?
    @Option(help: "Seed of every random draw (weights, order, dropout).") var seed: UInt64?
    @Option(help: "Checkpoint folder (default: runs/mnist-<date>-<time>).") var out: String?
    @Option(help: "Continue the run saved in this folder.") var resume: String?
    @Flag(name: .customLong("skip-non-finite"), help: "Skip a step whose loss or gradients are NaN or infinite instead of stopping.")
    var skipNonFinite = false
    @Flag(help: "End with one line of JSON holding the results.") var json = false

    func validate() throws {
        if let preset, MNISTPreset(rawValue: preset) == nil {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(MNISTPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if epochs != nil && samples != nil {
            throw ValidationError("--epochs and --samples both set the training budget; give one of them.")
        }
        for (name, value) in [("--hidden", hidden), ("--layers", layers), ("--projection", projection), ("--epochs", epochs),
                              ("--samples", samples), ("--batch", batch)] {
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
        if resume != nil {
            let fixed: [(String, Bool)] = [
                ("--preset", preset != nil), ("--cell", cell != nil), ("--hidden", hidden != nil), ("--layers", layers != nil),
                ("--bidirectional", bidirectional), ("--projection", projection != nil), ("--readout", readout != nil),
                ("--dropout", dropout != nil), ("--batch", batch != nil), ("--optimizer", optimizer != nil), ("--nesterov", nesterov),
                ("--lr-decay", lrDecay != nil), ("--clip", clip != nil), ("--validation", validation != nil), ("--seed", seed != nil),
            ]
            try rejectOnResume(fixed, allowed: "--epochs or --samples, --lr, --skip-non-finite, --data, --out and --json")
        }
    }

    /// The model and training settings from the preset (or defaults) and the flags.
    func settings() -> (SequenceClassifierConfiguration, TrainingOptions) {
        var (model, training) = preset.flatMap(MNISTPreset.init(rawValue:))?.settings()
            ?? (SequenceClassifierConfiguration(features: 28, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: 28, hiddenSize: 128),
                                                classes: MNIST.classCount), TrainingOptions())
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
            training.optimizer = OptimizerConfiguration(kind: optimizer, learningRate: defaultLearningRate(optimizer))
        }
        if let lr { training.optimizer.learningRate = lr }
        if nesterov { training.optimizer.nesterov = true }
        if let lrDecay { training.learningRateDecay = lrDecay }
        if let clip { training.clipNorm = clip }
        if let validation { training.validationCount = validation }
        if let seed { training.seed = seed }
        if skipNonFinite { training.skipNonFiniteSteps = true }
        return (model, training)
    }

    private func defaultLearningRate(_ kind: OptimizerKind) -> Double {
        switch kind {
        case .sgd, .momentum: 0.01
        case .adam, .rmsprop: 1e-3
        }
    }

    func run() throws {
        let resumed = try resume.map { try ClassifierCheckpoint.load(from: $0, forResume: true) }
        let data = self.data ?? resumed?.configuration.data.source ?? MNIST.defaultDirectory
        let trainSet = try MNIST.load(directory: data, split: .train)
        let testSet = try MNIST.load(directory: data, split: .test)

        let directory: String
        let trainer: Trainer<ClassificationTask>
        var checkpoint: CheckpointConfiguration
        var metricLines: [String] = []
        if let resume, let loaded = resumed {
            guard var options = loaded.configuration.training, var progress = loaded.progress else {
                throw ValidationError("\(resume) holds no training state to resume from.")
            }
            if let epochs { options.epochs = epochs; options.samples = nil }
            if let samples { options.samples = samples }
            if let lr { options.optimizer.learningRate = lr; progress.learningRate = lr }
            if skipNonFinite { options.skipNonFiniteSteps = true }
            checkpoint = loaded.configuration
            checkpoint.training = options
            directory = out ?? resume
            let (validationSet, trainingSet) = try split(trainSet, holdOut: options.validationCount)
            trainer = try Trainer(task: ClassificationTask(model: loaded.model, train: trainingSet, validation: validationSet,
                                                           batchSize: options.batchSize),
                                  schedule: options.schedule, resume: (progress, loaded.optimizerSteps, loaded.optimizerState))
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            var (modelConfiguration, options) = settings()
            modelConfiguration.features = trainSet.columns
            if modelConfiguration.projection == nil { modelConfiguration.recurrent.inputSize = trainSet.columns }
            if validation == nil && options.validationCount * 2 > trainSet.count {
                // The default 5,000 is MNIST's split; a small data set keeps the same twelfth.
                options.validationCount = trainSet.count / 12
            }
            try options.validate()
            directory = out ?? defaultRunFolder("mnist")
            try ClassifierCheckpoint.checkWritable(directory)
            var generator = SeededGenerator(seed: options.seed)
            let model = try SequenceClassifier<Float>(modelConfiguration, generator: &generator)
            if let w = options.fcWeightInitializer { try model.fc.initialize("weight", with: w, generator: &generator) }
            if let b = options.fcBiasInitializer { try model.fc.initialize("bias", with: b, generator: &generator) }
            if let p = options.projectionInitializer, let projection = model.projection {
                try projection.initialize("weight", with: p, generator: &generator)
                try projection.initialize("bias", with: p, generator: &generator)
            }
            let (validationSet, trainingSet) = try split(trainSet, holdOut: options.validationCount)
            trainer = try Trainer(task: ClassificationTask(model: model, train: trainingSet, validation: validationSet,
                                                           batchSize: options.batchSize),
                                  schedule: options.schedule)
            checkpoint = CheckpointConfiguration(
                task: "mnist", model: modelConfiguration,
                data: DataDescription(steps: trainSet.rows, features: trainSet.columns,
                                      classNames: classNames(forDataAt: data, classes: modelConfiguration.classes), source: data),
                training: options)
            let r = modelConfiguration.recurrent
            log("model: \(modelConfiguration.projection.map { "dense \(trainSet.columns)→\($0), " } ?? "")"
                + "\(r.cell.rawValue) \(r.hiddenSize)\(r.isBidirectional ? "×2" : "") × \(r.numLayers) layer(s), readout \(modelConfiguration.readout.rawValue), "
                + "\(model.namedParameters.reduce(0) { $0 + $1.variable.value.count }) parameters")
            log("data: \(data): \(trainingSet.count) training, \(validationSet.count) validation, \(testSet.count) test images")
            log("training: \(options.optimizer.kind.rawValue) lr \(options.optimizer.learningRate), batch \(options.batchSize), "
                + (options.samples.map { "\($0) samples" } ?? "\(options.epochs) epochs") + ", seed \(options.seed); saving to \(directory)")
        }

        let results = try runTraining(trainer, directory: directory, command: "rnnkit train mnist", metrics: &metricLines) { lines, curves in
            try ClassifierCheckpoint.save(to: directory, configuration: checkpoint, model: trainer.task.model, optimizer: trainer.optimizer,
                                          progress: trainer.progress, metrics: lines, curves: curves)
        }
        let test = try evaluate(trainer.task.model, on: testSet)
        log(String(format: "test loss %.4f  test accuracy %.2f%%  (%d images)  model saved in %@",
                   test.loss, 100 * test.accuracy, testSet.count, directory))
        if json {
            printJSONLine(trainingSummary(trainer, directory: directory).merging([
                "test_accuracy": test.accuracy, "test_loss": test.loss,
                "validation_accuracy": results.last?["validationAccuracy"] ?? NSNull(),
            ]) { $1 })
        }
    }

    private func split(_ data: ImageClassificationData, holdOut: Int) throws -> (validation: ImageClassificationData, train: ImageClassificationData) {
        guard holdOut < data.count else {
            throw ValidationError("--validation \(holdOut) holds out every one of the \(data.count) training images; hold out fewer.")
        }
        let (train, validation) = data.split(at: data.count - holdOut)
        return (validation, train)
    }
}

/// Human-readable lines go to stdout; with --json the JSON object is printed after them, last.
func log(_ line: String) {
    print(line)
    fflush(nil)  // all streams: Swift 6 forbids touching the global `stdout`
}
