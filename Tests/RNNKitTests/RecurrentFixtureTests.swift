import Foundation
import RNNKit
import Testing

/// Forward outputs and final states against recurrent_fixtures.json, written by the float64 numpy
/// reference make_recurrent_fixtures.py beside it (rerun: python3 Tests/RNNKitTests/Fixtures/make_recurrent_fixtures.py).
@Suite struct RecurrentFixtureTests {
    struct NamedTensor: Decodable {
        var shape: [Int]
        var values: [Double]
    }

    struct Case: Decodable, CustomTestStringConvertible, Sendable {
        var name: String
        var cell: String
        var input_size: Int
        var hidden_size: Int
        var num_layers: Int
        var bidirectional: Bool
        var merge: String
        var forget_bias: Double
        var batch: Int
        var steps: Int
        var input: [Double]
        var lengths: [Int]?
        var h0: [Double]?
        var c0: [Double]?
        var parameters: [String: NamedTensor]
        var output_shape: [Int]
        var output: [Double]
        var h_n: [Double]
        var c_n: [Double]?
        var testDescription: String { name }
    }

    struct File: Decodable { var cases: [Case] }

    static let cases: [Case] = {
        do {
            let data = try Data(contentsOf: fixtureURL("recurrent_fixtures.json"))
            return try JSONDecoder().decode(File.self, from: data).cases
        } catch {
            Issue.record("cannot read recurrent_fixtures.json: \(error)")
            return []
        }
    }()

    @Test func fixturesCoverEveryCell() {
        #expect(Set(Self.cases.map(\.cell)) == Set(RecurrentCell.allCases.map(\.rawValue)))
    }

    @Test(arguments: cases)
    func matchesReference(_ c: Case) throws {
        let cell = try #require(RecurrentCell(rawValue: c.cell))
        let config = RecurrentConfiguration(cell: cell, inputSize: c.input_size, hiddenSize: c.hidden_size,
                                            numLayers: c.num_layers, isBidirectional: c.bidirectional,
                                            merge: try #require(DirectionMerge(rawValue: c.merge)),
                                            forgetBias: c.forget_bias)
        var g = SeededGenerator(seed: 0)
        let layer = try RecurrentLayer<Float>(config, generator: &g)
        #expect(Set(layer.namedParameters.map(\.name)) == Set(c.parameters.keys))
        for (name, p) in c.parameters {
            try layer.setParameter(named: name, to: Tensor(shape: p.shape, scalars: p.values.map(Float.init)))
        }
        let stateShape = [c.num_layers * config.numDirections, c.batch, c.hidden_size]
        var state: RecurrentState<Tensor<Float>>? = nil
        if let h0 = c.h0 {
            state = RecurrentState(h: try Tensor(shape: stateShape, scalars: h0.map(Float.init)),
                                   c: try c.c0.map { try Tensor(shape: stateShape, scalars: $0.map(Float.init)) })
        }
        let x = try Tensor(shape: [c.batch, c.steps, c.input_size], scalars: c.input.map(Float.init))
        let r = try layer(x, initialState: state, lengths: c.lengths)

        #expect(r.output.shape == c.output_shape)
        #expect(maxError(r.output.scalars, c.output) <= 1e-5)
        #expect(r.state.h.shape == stateShape)
        #expect(maxError(r.state.h.scalars, c.h_n) <= 1e-5)
        if let cn = c.c_n {
            let got = try #require(r.state.c)
            #expect(maxError(got.scalars, cn) <= 1e-5)
        } else {
            #expect(r.state.c == nil)
        }
    }

    private func maxError(_ got: [Float], _ expected: [Double]) -> Double {
        guard got.count == expected.count else { return .infinity }
        return zip(got, expected).map { abs(Double($0) - $1) }.max() ?? 0
    }
}
