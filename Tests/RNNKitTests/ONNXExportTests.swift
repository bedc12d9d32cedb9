import Foundation
import RNNKit
import SwiftProtobuf
import Testing

/// `ONNXExport` and `rnnkit export onnx`: the graph read back in Swift (nodes, attributes, shapes,
/// weights against the checkpoint's, gates reordered), and every kind passed through
/// `onnx.checker.check_model(full_check=True)` from Debian's python3-onnx.
@Suite struct ONNXExportTests {
    struct Kind: Sendable, CustomTestStringConvertible {
        let name: String
        let configuration: SequenceClassifierConfiguration
        let lengths: Bool
        var testDescription: String { name }
    }

    static func recurrent(_ cell: RecurrentCell, _ hidden: Int, input: Int, layers: Int = 1, bidirectional: Bool = false,
                          merge: DirectionMerge = .concat, forgetBias: Double = 0) -> RecurrentConfiguration {
        RecurrentConfiguration(cell: cell, inputSize: input, hiddenSize: hidden, numLayers: layers, isBidirectional: bidirectional,
                               merge: merge, forgetBias: forgetBias)
    }

    static let kinds: [Kind] = [
        Kind(name: "LSTM 2 layers, bidirectional, projection, final, lengths",
             configuration: SequenceClassifierConfiguration(features: 5, projection: 4, recurrent: recurrent(.lstm, 6, input: 4, layers: 2, bidirectional: true),
                                                            readout: .final, classes: 3), lengths: true),
        Kind(name: "GRU, last, lengths",
             configuration: SequenceClassifierConfiguration(features: 3, recurrent: recurrent(.gru, 5, input: 3), readout: .last, classes: 2), lengths: true),
        Kind(name: "ReLU RNN bidirectional merge sum, last, no lengths",
             configuration: SequenceClassifierConfiguration(features: 3, recurrent: recurrent(.rnnRelu, 4, input: 3, bidirectional: true, merge: .sum),
                                                            readout: .last, classes: 2), lengths: false),
        Kind(name: "tanh RNN 2 layers, steps (tagger), lengths",
             configuration: SequenceClassifierConfiguration(features: 2, recurrent: recurrent(.rnnTanh, 4, input: 2, layers: 2), readout: .steps, classes: 3),
             lengths: true),
        Kind(name: "LSTM forget bias 1, final, no lengths (image rows)",
             configuration: SequenceClassifierConfiguration(features: 28, recurrent: recurrent(.lstm, 8, input: 28, forgetBias: 1), readout: .final, classes: 10),
             lengths: false),
    ]

    /// A model of `kind` with seeded random weights, its weights as model.safetensors holds them, and its export read back.
    static func exported(_ kind: Kind) throws -> (weights: [String: Tensor<Float>], model: Onnx_ModelProto) {
        var generator = SeededGenerator(seed: 7)
        let model = try SequenceClassifier<Float>(kind.configuration, generator: &generator)
        let weights = ClassifierCheckpoint.exportWeights(model)  // the forget bias folded, as model.safetensors holds them
        let onnx = try ONNXExport.classifier(kind.configuration, weights: weights, withLengths: kind.lengths)
        return (weights, try Onnx_ModelProto(serializedBytes: try onnx.serializedBytes() as [UInt8]))
    }

    @Test(arguments: kinds)
    func graphReadsBack(_ kind: Kind) throws {
        let (weights, m) = try Self.exported(kind)
        let r = kind.configuration.recurrent
        #expect(m.irVersion == 7 && m.opsetImport.count == 1 && m.opsetImport[0].version == 14 && m.opsetImport[0].domain.isEmpty)
        let op = r.cell == .lstm ? "LSTM" : r.cell == .gru ? "GRU" : "RNN"
        let recurrentNodes = m.graph.node.filter { $0.opType == op }
        #expect(recurrentNodes.count == r.numLayers, "one node per layer")
        for node in recurrentNodes {
            let attributes = Dictionary(uniqueKeysWithValues: node.attribute.map { ($0.name, $0) })
            #expect(attributes["hidden_size"]?.i == Int64(r.hiddenSize))
            #expect(attributes["direction"]?.s == Data((r.isBidirectional ? "bidirectional" : "forward").utf8))
            #expect((attributes["linear_before_reset"]?.i == 1) == (r.cell == .gru))
            if r.cell == .rnnRelu { #expect(attributes["activations"]?.strings == Array(repeating: Data("Relu".utf8), count: r.numDirections)) }
            #expect(node.input.count == (kind.lengths ? 5 : 4) && (kind.lengths ? node.input[4] == "lengths" : true))
        }
        // Inputs and output: batch-first, dynamic batch and time.
        let input = m.graph.input[0].type.tensorType
        #expect(m.graph.input[0].name == "input" && input.elemType == 1)
        #expect(input.shape.dim.map(\.dimParam) == ["batch", "time", ""] && input.shape.dim[2].dimValue == Int64(kind.configuration.features))
        #expect(m.graph.input.count == (kind.lengths ? 2 : 1))
        if kind.lengths { #expect(m.graph.input[1].type.tensorType.elemType == 6, "int32 lengths") }
        let output = m.graph.output[0].type.tensorType.shape.dim
        #expect(m.graph.output[0].name == "logits" && output.last?.dimValue == Int64(kind.configuration.classes)
                && output.count == (kind.configuration.readout == .steps ? 3 : 2))
        // Time-major inside: the first node turns (B, T, F) into (T, B, F).
        #expect(m.graph.node.contains { $0.opType == "Transpose" && $0.attribute.first?.ints == [1, 0, 2] })

        // Weights: each ONNX gate block is PyTorch's block in ONNX's order, biases W then R.
        let initializers = Dictionary(uniqueKeysWithValues: m.graph.initializer.map { ($0.name, $0) })
        func floats(_ t: Onnx_TensorProto) -> [Float] {
            t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
        }
        let H = r.hiddenSize, order = ONNXExport.gateOrder(r.cell), G = order.count
        for k in 0..<r.numLayers {
            let W = try #require(initializers["W_l\(k)"]), R = try #require(initializers["R_l\(k)"]), B = try #require(initializers["B_l\(k)"])
            let input = k == 0 ? r.inputSize : r.numDirections * H
            #expect(W.dims == [Int64(r.numDirections), Int64(G * H), Int64(input)] && R.dims == [Int64(r.numDirections), Int64(G * H), Int64(H)])
            #expect(B.dims == [Int64(r.numDirections), Int64(2 * G * H)])
            let w = floats(W), rr = floats(R), b = floats(B)
            let suffixes: [String] = r.isBidirectional ? ["", "_reverse"] : [""]
            for d in suffixes.indices {
                let suffix = suffixes[d]
                let wih = try #require(weights["rnn.weight_ih_l\(k)\(suffix)"]).scalars, whh = try #require(weights["rnn.weight_hh_l\(k)\(suffix)"]).scalars
                let bih = try #require(weights["rnn.bias_ih_l\(k)\(suffix)"]).scalars, bhh = try #require(weights["rnn.bias_hh_l\(k)\(suffix)"]).scalars
                for (onnxGate, torchGate) in order.enumerated() {
                    // Direction d's block `onnxGate` of the ONNX tensors against PyTorch's block `torchGate`.
                    #expect(Self.block(w, d * G + onnxGate, H * input) == Self.block(wih, torchGate, H * input))
                    #expect(Self.block(rr, d * G + onnxGate, H * H) == Self.block(whh, torchGate, H * H))
                    #expect(Self.block(b, 2 * d * G + onnxGate, H) == Self.block(bih, torchGate, H))
                    #expect(Self.block(b, 2 * d * G + G + onnxGate, H) == Self.block(bhh, torchGate, H))
                }
            }
        }
        // The readout: fc's weight transposed for MatMul.
        let fc = try #require(weights["fc.weight"]), fcT = floats(try #require(initializers["fc.weight_t"]))
        let (out, inp) = (fc.shape[0], fc.shape[1])
        #expect((0..<out).allSatisfy { o in (0..<inp).allSatisfy { i in fcT[i * out + o] == fc.scalars[o * inp + i] } })
    }

    /// Block `index` of `size` consecutive values.
    static func block(_ values: [Float], _ index: Int, _ size: Int) -> [Float] { Array(values[(index * size)..<((index + 1) * size)]) }

    /// Every kind passes ONNX's own checker with full shape inference (Debian's python3-onnx 1.12, IR 7, opset 14).
    @Test func onnxCheckerAcceptsEveryKind() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-onnx-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var paths: [String] = []
        for (i, kind) in Self.kinds.enumerated() {
            let path = dir + "/\(i).onnx"
            try Data(try Self.exported(kind).model.serializedBytes() as [UInt8]).write(to: URL(fileURLWithPath: path))
            paths.append(path)
        }
        let r = try runPython(["-c", """
            import sys, onnx
            for p in sys.argv[1:]:
                m = onnx.load(p)
                onnx.checker.check_model(m, full_check=True)
                inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
                print(p, len(m.graph.node), "nodes ok")
            """] + paths)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.components(separatedBy: "nodes ok").count == paths.count + 1, "\(r.stdout)")
    }

    /// Character models: the sequence graph (ids → logits and final states) and the one-step graph
    /// (ids and states in, logits and states out), an embedding with an LSTM and one-hot input with a GRU.
    @Test func characterModelGraphs() throws {
        let dir = NSTemporaryDirectory() + "rnnkit-onnx-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let vocabulary = Vocabulary(text: "abc de\n")
        var paths: [String] = []
        for (cell, embedding) in [(RecurrentCell.lstm, 4 as Int?), (.gru, nil)] {
            let configuration = CharLMConfiguration(vocabulary: vocabulary, embeddingSize: embedding,
                                                    recurrent: Self.recurrent(cell, 5, input: embedding ?? vocabulary.count, layers: 2,
                                                                              forgetBias: cell == .lstm ? 1 : 0))
            var generator = SeededGenerator(seed: 3)
            let model = try CharLanguageModel<Float>(configuration, generator: &generator)
            let weights = CharLMCheckpoint.exportWeights(model)
            for step in [false, true] {
                let m = try Onnx_ModelProto(serializedBytes: try ONNXExport.characterModel(configuration, weights: weights, step: step)
                                                .serializedBytes() as [UInt8])
                let lstm = cell == .lstm
                #expect(m.graph.input.map(\.name) == ["ids"] + (step ? ["h"] + (lstm ? ["c"] : []) : []))
                #expect(m.graph.input[0].type.tensorType.elemType == 7 && m.graph.input[0].type.tensorType.shape.dim.count == (step ? 1 : 2))
                #expect(m.graph.output.map(\.name) == ["logits"] + (step ? ["h_out"] + (lstm ? ["c_out"] : []) : ["h"] + (lstm ? ["c"] : [])))
                #expect(m.graph.output[0].type.tensorType.shape.dim.last?.dimValue == Int64(vocabulary.count))
                #expect(m.graph.node.contains { $0.opType == (embedding != nil ? "Gather" : "OneHot") })
                let recurrentNodes = m.graph.node.filter { $0.opType == (lstm ? "LSTM" : "GRU") }
                #expect(recurrentNodes.count == 2)
                // The step graph feeds each layer its slice of the states (initial_h, initial_c after an empty sequence_lens).
                #expect(recurrentNodes.allSatisfy { $0.input.count == (step ? (lstm ? 7 : 6) : 4) && (!step || $0.input[4].isEmpty) })
                let path = dir + "/\(cell)-\(step).onnx"
                try Data(try m.serializedBytes() as [UInt8]).write(to: URL(fileURLWithPath: path))
                paths.append(path)
            }
        }
        let r = try runPython(["-c", """
            import sys, onnx
            for p in sys.argv[1:]:
                m = onnx.load(p)
                onnx.checker.check_model(m, full_check=True)
                onnx.shape_inference.infer_shapes(m, strict_mode=True)
                print(p, "ok")
            """] + paths)
        #expect(r.status == 0 && r.stdout.components(separatedBy: " ok").count == paths.count + 1, "\(r.stderr)")
    }

    /// Debian's python3 (where python3-onnx lives), whatever `python3` is first on PATH.
    func runPython(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: FileManager.default.fileExists(atPath: "/usr/bin/python3") ? "/usr/bin/python3" : "/usr/bin/env")
        p.arguments = (p.executableURL!.path == "/usr/bin/env" ? ["python3"] : []) + arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
