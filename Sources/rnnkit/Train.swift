import ArgumentParser
import Foundation
import RNNKit

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model.",
        subcommands: [TrainMNIST.self, TrainSequences.self, TrainForecast.self, CharLMTrain.self, Seq2SeqTrain.self]
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
        Defaults: LSTM 128, one layer, Adam 1e-3, batch 128, 10 epochs, seed 0, on Fashion-MNIST from \
        \(MNIST.defaultDirectory). A preset sets a seed experiment's settings; flags given with it override them. \
        Presets: \(MNISTPreset.allCases.map(\.rawValue).joined(separator: ", ")).
        """
    )

    @Option(help: "Folder with the four MNIST files, raw or .gz (default: \(MNIST.defaultDirectory), or the resumed run's).")
    var data: String?
    @Option(help: "A seed experiment's settings: \(MNISTPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
    var preset: String?
    @OptionGroup var flags: ClassifierFlags

    func validate() throws {
        if let preset, MNISTPreset(rawValue: preset) == nil {
            throw ValidationError("unknown preset '\(preset)'; choose one of \(MNISTPreset.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        if flags.resume != nil && preset != nil { try flags.rejectSetupFlags(also: [("--preset", true)]) }
    }

    /// The model and training settings from the preset (or defaults) and the flags.
    func settings() -> (SequenceClassifierConfiguration, TrainingOptions) {
        let base = preset.flatMap(MNISTPreset.init(rawValue:))?.settings()
            ?? (SequenceClassifierConfiguration(features: 28, recurrent: RecurrentConfiguration(cell: .lstm, inputSize: 28, hiddenSize: 128),
                                                classes: MNIST.classCount), TrainingOptions())
        return flags.apply(to: base)
    }

    func run() throws {
        let group = try joinProcessGroup(distributed: flags.distributed)
        let resumed = try flags.resume.map { try ClassifierCheckpoint.load(from: $0, forResume: true) }
        let data = self.data ?? resumed?.configuration.data.source ?? MNIST.defaultDirectory
        let trainSet = try MNIST.load(directory: data, split: .train)
        let testSet = try MNIST.load(directory: data, split: .test)

        let directory: String
        let trainer: Trainer<ClassificationTask>
        var checkpoint: CheckpointConfiguration
        var metricLines: [String] = []
        if let resume = flags.resume, let loaded = resumed {
            let (resumedCheckpoint, options, progress) = try flags.continuing(loaded, from: resume)
            checkpoint = resumedCheckpoint
            directory = flags.out ?? resume
            let (validationSet, trainingSet) = try split(trainSet, holdOut: options.validationCount)
            trainer = try Trainer(task: ClassificationTask(model: loaded.model, train: trainingSet, validation: validationSet,
                                                           batchSize: options.batchSize),
                                  schedule: options.schedule, resume: (progress, loaded.optimizerSteps, loaded.optimizerState), group: group)
            metricLines = loaded.metrics
            log(resumeNote(resume, progress))
        } else {
            var (modelConfiguration, options) = settings()
            modelConfiguration.features = trainSet.columns
            if modelConfiguration.projection == nil { modelConfiguration.recurrent.inputSize = trainSet.columns }
            if flags.validation == nil && options.validationCount * 2 > trainSet.count {
                // The default 5,000 is MNIST's split; a small data set keeps the same twelfth.
                options.validationCount = trainSet.count / 12
            }
            try options.validate()
            directory = flags.out ?? defaultRunFolder("mnist")
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
                                  schedule: options.schedule, group: group)
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

        try group.describe(batch: trainer.task.batchSize)
        let results = try runTraining(trainer, directory: directory, command: "rnnkit train mnist", metrics: &metricLines) { lines, curves in
            try ClassifierCheckpoint.save(to: directory, configuration: checkpoint, model: trainer.task.model, optimizer: trainer.optimizer,
                                          progress: trainer.progress, metrics: lines, curves: curves)
        }
        defer { group.finish() }
        guard group.isPrimary else { return }  // the test set is rank 0's
        let test = try evaluate(trainer.task.model, on: testSet)
        log(String(format: "test loss %.4f  test accuracy %.2f%%  (%d images)  model saved in %@",
                   test.loss, 100 * test.accuracy, testSet.count, directory))
        if flags.json {
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

/// Set on the ranks of a distributed run other than rank 0: they print nothing but errors.
nonisolated(unsafe) var outputIsQuiet = false

/// Human-readable lines go to stdout; with --json the JSON object is printed after them, last.
func log(_ line: String) {
    guard !outputIsQuiet else { return }
    print(line)
    fflush(nil)  // all streams: Swift 6 forbids touching the global `stdout`
}
