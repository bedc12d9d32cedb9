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
}
