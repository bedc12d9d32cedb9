import Foundation
import RNNKit
import Testing

@Suite struct TrainingTests {
    static func toyModel(readout: Readout = .last, bidirectional: Bool = false, forgetBias: Double = 1,
                         seed: UInt64 = 3) throws -> SequenceClassifier<Float> {
        var g = SeededGenerator(seed: seed)
        let config = SequenceClassifierConfiguration(
            features: 4, projection: 6,
            recurrent: RecurrentConfiguration(cell: .lstm, inputSize: 6, hiddenSize: 12, isBidirectional: bidirectional,
                                              forgetBias: forgetBias),
            readout: readout, classes: 10)
        return try SequenceClassifier(config, generator: &g)
    }

    @Test func tinyModelLearnsTheToyTaskExactly() throws {
        let dir = try writeToyMNIST()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try MNIST.load(directory: dir, split: .train)
        var options = TrainingOptions()
        options.epochs = 40
        options.batchSize = 20
        options.optimizer = OptimizerConfiguration(kind: .adam, learningRate: 0.02)
        let trainer = try Trainer(task: ClassificationTask(model: try Self.toyModel(), train: train, validation: train.split(at: 0).0,
                                                           batchSize: options.batchSize),
                                  schedule: options.schedule)
        var last: TrainingMetrics? = nil
        while !trainer.isFinished { last = try trainer.runUntilEvaluation() ?? last }
        #expect(try evaluate(trainer.task.model, on: train).accuracy == 1, "last epoch: \(String(describing: last))")
        #expect(try evaluate(trainer.task.model, on: try MNIST.load(directory: dir, split: .test)).accuracy == 1)
    }

    /// Warm-up: step s of the first N trains at (s+1)/N of the rate. With SGD, one step at rate r
    /// under a warm-up of 4 moves the weights as one step at r/4 without it; the step after the
    /// warm-up uses the full rate, and the metrics report the last step's rate.
    @Test func warmupRaisesTheRateLinearly() throws {
        let dir = try writeToyMNIST(train: 40, test: 10)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try MNIST.load(directory: dir, split: .train)
        func run(rate: Double, warmup: Int?, steps: Int) throws -> (weights: [Tensor<Float>], metrics: TrainingMetrics?) {
            var options = TrainingOptions()
            options.batchSize = 10
            options.optimizer = OptimizerConfiguration(kind: .sgd, learningRate: rate)
            options.warmupSteps = warmup
            var schedule = options.schedule
            schedule.steps = steps
            let trainer = try Trainer(task: ClassificationTask(model: try Self.toyModel(), train: train, validation: train.split(at: 0).0,
                                                               batchSize: 10), schedule: schedule)
            var last: TrainingMetrics?
            while !trainer.isFinished { last = try trainer.runUntilEvaluation() ?? last }
            return (trainer.task.model.namedParameters.map(\.variable.value), last)
        }
        let warm = try run(rate: 0.4, warmup: 4, steps: 1), plain = try run(rate: 0.1, warmup: nil, steps: 1)
        for (a, b) in zip(warm.weights, plain.weights) {
            #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
        }
        #expect(try #require(warm.metrics).learningRate == 0.1)
        #expect(try #require(try run(rate: 0.4, warmup: 2, steps: 3).metrics).learningRate == 0.4)
        let moved = try run(rate: 0.4, warmup: nil, steps: 1)
        #expect(zip(moved.weights, plain.weights).contains { $0 != $1 }, "a quarter of the rate must be a different step")
    }

    /// An epoch stopped after step k (as Ctrl-C stops it), saved, loaded into a new trainer and
    /// finished gives the weights and metrics of an epoch never stopped, for every k.
    @Test(arguments: [1, 4, 7])
    func epochStoppedPartWayContinuesExactly(stopAfter k: Int) throws {
        let dir = try writeToyMNIST(train: 80, test: 10)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let train = try MNIST.load(directory: dir, split: .train)
        var options = TrainingOptions()
        options.epochs = 2
        options.batchSize = 10
        var configuration = try Self.toyModel().configuration
        configuration.recurrent.dropout = 0.2
        configuration.recurrent.outputDropout = 0.2
        func fresh() throws -> Trainer<ClassificationTask> {
            var g = SeededGenerator(seed: 3)
            return try Trainer(task: ClassificationTask(model: SequenceClassifier(configuration, generator: &g), train: train,
                                                        validation: train.split(at: 0).0, batchSize: options.batchSize),
                               schedule: options.schedule)
        }
        let straight = try fresh()
        var straightMetrics: [TrainingMetrics] = []
        while !straight.isFinished { straightMetrics += [try #require(try straight.runUntilEvaluation())] }

        let first = try fresh()
        var metrics = [try #require(try first.runUntilEvaluation())]
        var steps = 0
        #expect(try first.runUntilEvaluation(stoppingWhen: { steps += 1; return steps == k }) == nil)
        #expect(first.progress.partialEpoch?.steps == k)
        let folder = dir + "/ckpt"
        try ClassifierCheckpoint.save(
            to: folder, configuration: CheckpointConfiguration(task: "mnist", model: configuration,
                                                               data: DataDescription(steps: 10, features: 4, classNames: [], source: dir),
                                                               training: options),
            model: first.task.model, optimizer: first.optimizer, progress: first.progress, metrics: [], curves: nil)
        let loaded = try ClassifierCheckpoint.load(from: folder, forResume: true)
        let second = try Trainer(task: ClassificationTask(model: loaded.model, train: train, validation: train.split(at: 0).0,
                                                          batchSize: options.batchSize),
                                 schedule: options.schedule,
                                 resume: (try #require(loaded.progress), loaded.optimizerSteps, loaded.optimizerState))
        metrics += [try #require(try second.runUntilEvaluation())]
        #expect(second.isFinished)
        #expect(second.task.model.namedParameters.map(\.variable.value) == straight.task.model.namedParameters.map(\.variable.value))
        for (a, b) in zip(metrics, straightMetrics) {
            #expect(a.trainLoss == b.trainLoss && a["trainAccuracy"] == b["trainAccuracy"] && a.epoch == b.epoch)
        }
    }

    @Test(arguments: [Readout.last, .final])
    func checkpointRoundTripGivesIdenticalLogits(readout: Readout) throws {
        let dir = try writeToyMNIST(train: 20, test: 20)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let data = try MNIST.load(directory: dir, split: .test)
        let model = try Self.toyModel(readout: readout, bidirectional: true)
        let configuration = CheckpointConfiguration(
            task: "mnist", model: model.configuration,
            data: DataDescription(steps: 10, features: 4, classNames: (0..<10).map(String.init), source: dir), training: TrainingOptions())
        let folder = dir + "/ckpt"
        try ClassifierCheckpoint.save(to: folder, configuration: configuration, model: model, optimizer: nil, progress: nil,
                                      metrics: [], curves: nil)
        let (images, _) = data.batch(0..<20)
        let loaded = try ClassifierCheckpoint.load(from: folder, forResume: false)
        #expect(loaded.model.configuration.recurrent.forgetBias == 0, "folded into bias_ih for evaluation")
        let difference = try loaded.model.logits(images).maxAbsDifference(try model.logits(images))
        #expect(difference <= 1e-6)
        // Saving again replaces the folder as a whole.
        try ClassifierCheckpoint.save(to: folder, configuration: configuration, model: model, optimizer: nil, progress: nil,
                                      metrics: ["{}"], curves: "<svg/>")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: folder))
                == ["config.json", "model.safetensors", "metrics.jsonl", "curves.svg"])
    }

    @Test func checkpointLoadingRejectsMismatchedWeights() throws {
        let dir = try writeToyMNIST(train: 10, test: 10)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = try Self.toyModel()
        var configuration = CheckpointConfiguration(
            task: "mnist", model: model.configuration,
            data: DataDescription(steps: 10, features: 4, classNames: [], source: dir), training: nil)
        try ClassifierCheckpoint.save(to: dir + "/c", configuration: configuration, model: model, optimizer: nil, progress: nil,
                                      metrics: [], curves: nil)
        configuration.model.recurrent.hiddenSize = 13
        try Data(String(decoding: try JSONEncoder().encode(configuration), as: UTF8.self).utf8)
            .write(to: URL(fileURLWithPath: dir + "/c/config.json"))
        checkDataError(try ClassifierCheckpoint.load(from: dir + "/c", forResume: false), path: dir + "/c/model.safetensors",
                        fragments: ["wrong shape", "rnn.weight_ih_l0", "config.json"])
        try ClassifierCheckpoint.checkWritable(dir + "/c")
        checkDataError(try ClassifierCheckpoint.checkWritable(dir), path: dir, fragments: ["refusing to overwrite"])
    }

    @Test(arguments: MNISTPreset.allCases)
    func presetsSetWhatTheyClaim(preset: MNISTPreset) {
        let (m, t) = preset.settings()
        let r = m.recurrent
        #expect(r.cell == .lstm && r.forgetBias == 1 && r.numLayers == 1 && m.features == 28 && m.classes == 10)
        switch preset {
        case .seedLSTM:
            #expect(r.hiddenSize == 100 && m.readout == .final && t.batchSize == 50 && t.epochs == 6 && t.samples == nil)
            #expect(t.optimizer.kind == .adam && t.optimizer.learningRate == 1e-4)
            #expect(t.fcWeightInitializer == .truncatedNormal(mean: 0, standardDeviation: 0.1) && t.fcBiasInitializer == .constant(0.1))
        case .seedLSTMRMSProp:
            #expect(r.hiddenSize == 28 && m.readout == .last && t.batchSize == 128 && t.epochs == 100)
            #expect(t.optimizer.kind == .rmsprop && t.optimizer.learningRate == 1e-3 && t.optimizer.alpha == 0.9)
            #expect(t.fcWeightInitializer == .normal(mean: 0, standardDeviation: 0.01))
        case .seedBiLSTM:
            #expect(r.hiddenSize == 256 && r.isBidirectional && m.readout == .last && t.batchSize == 128 && t.samples == 400_000)
            #expect(t.optimizer.kind == .adam && t.optimizer.learningRate == 0.01)
        case .seedProjection:
            #expect(m.projection == 128 && r.inputSize == 128 && r.hiddenSize == 128 && m.readout == .last)
            #expect(t.batchSize == 128 && t.samples == 100_000 && t.optimizer.kind == .adam && t.optimizer.learningRate == 1e-3)
        }
    }
}
