import Foundation
import RNNKit
import Testing

/// The README's library example, kept compiling and producing the shapes it promises.
@Suite struct ReadmeExampleTests {
    @Test func libraryExample() throws {
        var generator = SeededGenerator(seed: 0)
        let lstm = try RecurrentLayer<Float>(
            RecurrentConfiguration(cell: .lstm, inputSize: 28, hiddenSize: 128, numLayers: 2,
                                   isBidirectional: true, forgetBias: 1.0, dropout: 0.2),
            generator: &generator)
        let readout = try Dense<Float>(inputSize: lstm.configuration.outputSize, outputSize: 10, generator: &generator)

        let x = Variable(try Tensor<Float>.uniform(shape: [32, 28, 28], low: 0, high: 1, generator: &generator))
        let r = try lstm(x, lengths: nil, training: &generator)
        let logits = try readout(r.output)
        try logits.sum().backward()

        #expect(r.output.shape == [32, 28, 256])
        #expect(r.state.h.shape == [4, 32, 128])
        #expect(logits.shape == [32, 28, 10])
        #expect(lstm.parameter(named: "weight_hh_l1_reverse")?.grad?.shape == [512, 128])
    }

    /// README's sequence-to-sequence example, as written.
    @Test func sequenceToSequenceExample() throws {
        let pairs = AdditionProblems.generate(count: 100, digits: 1, seed: 1)
        let source = TokenVocabulary(sequences: pairs.sources), target = TokenVocabulary(sequences: pairs.targets)
        let data = try Seq2SeqData(pairs, source: source, target: target)
        var configuration = Seq2SeqConfiguration(sourceVocabulary: source.count, targetVocabulary: target.count)
        configuration.attention = .bahdanau
        (configuration.embedding, configuration.hidden) = (16, 24)
        var generator = SeededGenerator(seed: 2)
        let task = try Seq2SeqTask(model: Seq2SeqModel<Float>(configuration, generator: &generator),
                                   train: data, validation: data, batchSize: 11, maxLength: 4)
        let trainer = try Trainer(task: task, schedule: TrainingSchedule(epochs: 80, optimizer: OptimizerConfiguration(kind: .adam, learningRate: 0.01),
                                                                         clipNorm: 5, seed: 3))
        while !trainer.isFinished { _ = try trainer.runUntilEvaluation() }
        let best = try task.model.beamSearch([try source.encode(TokenUnit.chars.tokens("7+8"), place: "the input")], beam: 3, maxLength: 4)
        #expect(target.decode(best[0].tokens).joined() == "15")
    }

    /// README's "Training from Swift" example, on toy data instead of Fashion-MNIST.
    @Test func trainingExample() throws {
        let dataFolder = try writeToyMNIST(train: 100, test: 20)
        defer { try? FileManager.default.removeItem(atPath: dataFolder) }
        let (F, outFolder, epochs, learningRate) = (4, dataFolder + "/gru", 25, 0.01)
        var accuracy = 0.0

        let (validation, train) = try MNIST.load(directory: dataFolder, split: .train).split(at: 20)
        var generator = SeededGenerator(seed: 0)
        let model = try SequenceClassifier<Float>(
            SequenceClassifierConfiguration(features: F, recurrent: RecurrentConfiguration(cell: .gru, inputSize: F, hiddenSize: 64),
                                            readout: .final, classes: 10),
            generator: &generator)
        let optimizer = try Optimizer<Float>(OptimizerConfiguration(kind: .adam, learningRate: learningRate))
        for epoch in 1...epochs {
            for start in stride(from: 0, to: train.count, by: 32) {
                let (images, labels) = train.batch(start..<min(start + 32, train.count))
                let loss = try Loss.softmaxCrossEntropy(logits: model(Variable(images), training: &generator), labels: labels)
                model.zeroGrad()
                try loss.backward()
                try clipGradientsByGlobalNorm(model.namedParameters, maxNorm: 5)
                optimizer.step(model.namedParameters)
            }
            accuracy = try evaluate(model, on: validation).accuracy
            print("epoch \(epoch): validation accuracy \(accuracy)")
        }
        let data = DataDescription(steps: train.rows, features: F, classNames: (0..<10).map(String.init), source: dataFolder)
        try ClassifierCheckpoint.save(to: outFolder, configuration: CheckpointConfiguration(task: "mnist", model: model.configuration, data: data, training: nil),
                                      model: model, optimizer: nil, progress: nil, metrics: [], curves: nil)

        #expect(accuracy > 0.9)
        let loaded = try ClassifierCheckpoint.load(from: outFolder, forResume: false)
        #expect(try loaded.model.logits(validation.batch(0..<5).images) == model.logits(validation.batch(0..<5).images))
    }
}
