import Foundation
import SwiftProtobuf

/// Writes RNNKit models as ONNX graphs (IR version 7, opset 14 by default): standard `LSTM`, `GRU`
/// and `RNN` nodes, one per layer, with PyTorch's gate blocks reordered to ONNX's; batch-first
/// inputs and outputs, as the PyTorch module of the checkpoint takes them, time-major inside
/// (ONNX Runtime's CPU kernels reject `layout = 1`); dynamic batch and time axes.
///
/// The protobuf messages are swift-protobuf's, generated once from Debian's `onnx.proto`
/// (`scripts/generate-onnx-proto.sh`).
public enum ONNXExport {
    public static let irVersion: Int64 = 7
    /// The opsets the graphs are valid in (Squeeze and ReduceSum take their axes as inputs from 13).
    public static let opsets: ClosedRange<Int> = 13...17

    /// The ONNX model of a sequence classifier (or regressor, tagger, forecaster): input `input`
    /// `(batch, time, features)` float, `lengths` `(batch)` int32 when `withLengths`, output
    /// `logits` `(batch, classes)`, or `(batch, time, classes)` for the `steps` readout.
    /// - Parameter weights: the checkpoint's tensors under PyTorch names, the forget bias folded
    ///   (model.safetensors as written).
    public static func classifier(_ configuration: SequenceClassifierConfiguration, weights: [String: Tensor<Float>], withLengths: Bool,
                                  opset: Int = 14, name: String = "rnnkit") throws(RNNKitError) -> Onnx_ModelProto {
        try configuration.validate()
        guard opsets.contains(opset) else {
            throw .invalidValue(argument: "opset", expected: "\(opsets.lowerBound)…\(opsets.upperBound)", found: "\(opset)",
                                hint: "14 is what Debian's python3-onnx 1.12 and every current ONNX Runtime read.")
        }
        var g = GraphBuilder(weights: weights)
        var x = "input"
        if configuration.projection != nil { x = try g.dense(x, prefix: "proj") }
        var steps = g.node("Transpose", [x], attributes: [.ints("perm", [1, 0, 2])])[0]  // (T, B, F)
        let lengths = withLengths ? "lengths" : nil
        let r = configuration.recurrent
        var finalH = ""
        for layer in 0..<r.numLayers {
            let (y, yh, _) = try g.recurrent(steps, r, layer: layer, lengths: lengths)
            finalH = yh
            // Y (T, D, B, H) → (T, B, D·H), or the directions' sum after the last layer with merge sum.
            if layer == r.numLayers - 1 && r.isBidirectional && r.merge == .sum {
                steps = g.node("ReduceSum", [y, g.int64s("axis1", [1])], attributes: [.int("keepdims", 0)])[0]
            } else {
                let t = g.node("Transpose", [y], attributes: [.ints("perm", [0, 2, 1, 3])])[0]
                steps = g.node("Reshape", [t, g.int64s("shape_tb_1", [0, 0, -1])])[0]
            }
        }
        let features: String
        switch configuration.readout {
        case .final:
            // The last layer's final states (D, B, H) → (B, D·H): forward then reverse, as PyTorch's cat.
            let t = g.node("Transpose", [finalH], attributes: [.ints("perm", [1, 0, 2])])[0]
            features = g.node("Reshape", [t, g.int64s("shape_b_1", [0, -1])])[0]
        case .steps:
            features = g.node("Transpose", [steps], attributes: [.ints("perm", [1, 0, 2])])[0]  // (B, T, D)
        case .last:
            if let lengths {
                // Each sequence's output at step length − 1: GatherElements over time.
                let batchFirst = g.node("Transpose", [steps], attributes: [.ints("perm", [1, 0, 2])])[0]
                let long = g.node("Cast", [lengths], attributes: [.int("to", Int64(Onnx_TensorProto.DataType.int64.rawValue))])[0]
                let last = g.node("Sub", [long, g.int64s("one", [1])])[0]
                let index = g.node("Reshape", [last, g.int64s("shape_1_1_1", [-1, 1, 1])])[0]
                let shape = g.node("Concat", [g.node("Shape", [lengths])[0], g.int64s("one", [1]), g.int64s("width", [Int64(r.outputSize)])],
                                   attributes: [.int("axis", 0)])[0]
                let expanded = g.node("Expand", [index, shape])[0]
                let picked = g.node("GatherElements", [batchFirst, expanded], attributes: [.int("axis", 1)])[0]
                features = g.node("Squeeze", [picked, g.int64s("axis1", [1])])[0]
            } else {
                let slice = g.node("Slice", [steps, g.int64s("minus_one", [-1]), g.int64s("int64_max", [Int64.max]), g.int64s("axis0", [0])])[0]
                features = g.node("Squeeze", [slice, g.int64s("axis0", [0])])[0]
            }
        }
        let logits = try g.dense(features, prefix: "fc", output: "logits")

        var graph = Onnx_GraphProto()
        graph.name = name
        graph.node = g.nodes
        graph.initializer = g.initializers
        graph.input = [valueInfo("input", .float, [.param("batch"), .param("time"), .value(configuration.features)])]
        if let lengths { graph.input.append(valueInfo(lengths, .int32, [.param("batch")])) }
        graph.output = [valueInfo(logits, .float, configuration.readout == .steps
                                  ? [.param("batch"), .param("time"), .value(configuration.classes)] : [.param("batch"), .value(configuration.classes)])]
        return model(graph, opset: opset)
    }

    /// The ONNX model of a character-level language model. The sequence graph (`step: false`)
    /// takes `ids` `(batch, time)` int64 and returns `logits` `(batch, time, vocabulary)` and the
    /// final states `h` (and `c` for an LSTM) `(layers, batch, hidden)`, from a zero state. The
    /// step graph (`step: true`) takes `ids` `(batch)` and the states `h`, `c` and returns the next
    /// `logits` `(batch, vocabulary)` and the states `h_out`, `c_out`: one character at a time, for
    /// streaming sampling.
    /// - Parameter weights: model.safetensors as written (embedding, rnn, fc; forget bias folded).
    public static func characterModel(_ configuration: CharLMConfiguration, weights: [String: Tensor<Float>], step: Bool, opset: Int = 14,
                                      name: String = "rnnkit-charlm") throws(RNNKitError) -> Onnx_ModelProto {
        try configuration.validate()
        guard opsets.contains(opset) else {
            throw .invalidValue(argument: "opset", expected: "\(opsets.lowerBound)…\(opsets.upperBound)", found: "\(opset)",
                                hint: "14 is what Debian's python3-onnx 1.12 and every current ONNX Runtime read.")
        }
        var g = GraphBuilder(weights: weights)
        let r = configuration.recurrent, V = configuration.vocabulary.count, L = r.numLayers, H = r.hiddenSize
        let lstm = r.cell == .lstm
        // Time-major ids: (T, B), or (1, B) for one step.
        let ids = step ? g.node("Unsqueeze", ["ids", g.int64s("axis0", [0])])[0]
            : g.node("Transpose", ["ids"], attributes: [.ints("perm", [1, 0])])[0]
        var steps: String
        if configuration.embeddingSize != nil {
            let table = try g.weight("embedding.weight")
            steps = g.node("Gather", [g.floats("embedding.weight", table.shape, table.scalars), ids], attributes: [.int("axis", 0)])[0]
        } else {
            steps = g.node("OneHot", [ids, g.int64s("depth", [Int64(V)]), g.floats("off_on", [2], [0, 1])], attributes: [.int("axis", -1)])[0]
        }
        var finalH: [String] = [], finalC: [String] = []
        for k in 0..<L {
            var initial: (h: String, c: String?)? = nil
            if step {
                let from = g.int64s("layer\(k)", [Int64(k)]), to = g.int64s("layer\(k + 1)", [Int64(k + 1)]), axis = g.int64s("axis0", [0])
                initial = (g.node("Slice", ["h", from, to, axis])[0], lstm ? g.node("Slice", ["c", from, to, axis])[0] : nil)
            }
            let (y, yh, yc) = try g.recurrent(steps, r, layer: k, lengths: nil, initial: initial)
            finalH.append(yh)
            if let yc { finalC.append(yc) }
            steps = g.node("Squeeze", [y, g.int64s("axis1", [1])])[0]  // (T, 1, B, H) → (T, B, H)
        }
        let hOut = step ? "h_out" : "h", cOut = step ? "c_out" : "c"
        g.node("Concat", finalH, outputs: [hOut], attributes: [.int("axis", 0)])
        if lstm { g.node("Concat", finalC, outputs: [cOut], attributes: [.int("axis", 0)]) }
        let features = step ? g.node("Squeeze", [steps, g.int64s("axis0", [0])])[0]
            : g.node("Transpose", [steps], attributes: [.ints("perm", [1, 0, 2])])[0]
        let logits = try g.dense(features, prefix: "fc", output: "logits")

        var graph = Onnx_GraphProto()
        graph.name = name + (step ? "-step" : "")
        graph.node = g.nodes
        graph.initializer = g.initializers
        let state: [Dimension] = [.value(L), .param("batch"), .value(H)]
        graph.input = [valueInfo("ids", .int64, step ? [.param("batch")] : [.param("batch"), .param("time")])]
        if step { graph.input += [valueInfo("h", .float, state)] + (lstm ? [valueInfo("c", .float, state)] : []) }
        graph.output = [valueInfo(logits, .float, step ? [.param("batch"), .value(V)] : [.param("batch"), .param("time"), .value(V)]),
                        valueInfo(hOut, .float, state)] + (lstm ? [valueInfo(cOut, .float, state)] : [])
        return model(graph, opset: opset)
    }

    /// A model around `graph`: IR version 7, the default domain at `opset`, producer "rnnkit".
    static func model(_ graph: Onnx_GraphProto, opset: Int) -> Onnx_ModelProto {
        var m = Onnx_ModelProto()
        m.irVersion = irVersion
        m.producerName = "rnnkit"
        m.producerVersion = "0.2"
        var set = Onnx_OperatorSetIdProto()
        set.domain = ""
        set.version = Int64(opset)
        m.opsetImport = [set]
        m.graph = graph
        return m
    }

    enum Dimension {
        case value(Int)
        case param(String)
    }

    static func valueInfo(_ name: String, _ type: Onnx_TensorProto.DataType, _ dims: [Dimension]) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        shape.dim = dims.map { d in
            var dim = Onnx_TensorShapeProto.Dimension()
            switch d {
            case let .value(v): dim.dimValue = Int64(v)
            case let .param(p): dim.dimParam = p
            }
            return dim
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(type.rawValue)
        tensor.shape = shape
        var t = Onnx_TypeProto()
        t.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = t
        return info
    }

    /// Where a PyTorch gate block goes in ONNX's order: LSTM i,f,g,o → i,o,f,c; GRU r,z,n → z,r,h.
    public static func gateOrder(_ cell: RecurrentCell) -> [Int] {
        switch cell {
        case .lstm: [0, 3, 1, 2]
        case .gru: [1, 0, 2]
        case .rnnTanh, .rnnRelu: [0]
        }
    }
}

/// Nodes and initializers of a graph in the making, with unique names.
struct GraphBuilder {
    let weights: [String: Tensor<Float>]
    var nodes: [Onnx_NodeProto] = []
    var initializers: [Onnx_TensorProto] = []
    private var names: Set<String> = []
    private var count = 0

    init(weights: [String: Tensor<Float>]) { self.weights = weights }

    enum Attribute {
        case int(String, Int64)
        case ints(String, [Int64])
        case string(String, String)
        case strings(String, [String])
    }

    /// Adds a node; returns its `outputs` names (fresh ones when `outputs` gives none).
    @discardableResult
    mutating func node(_ op: String, _ inputs: [String], outputs: [String]? = nil, count outputCount: Int = 1,
                       attributes: [Attribute] = []) -> [String] {
        count += 1
        let names = outputs ?? (0..<outputCount).map { "\(op.lowercased())_\(count)" + (outputCount > 1 ? "_\($0)" : "") }
        var n = Onnx_NodeProto()
        n.opType = op
        n.name = "\(op)_\(count)"
        n.input = inputs
        n.output = names
        n.attribute = attributes.map { a in
            var p = Onnx_AttributeProto()
            switch a {
            case let .int(name, v): (p.name, p.type, p.i) = (name, .int, v)
            case let .ints(name, v): (p.name, p.type, p.ints) = (name, .ints, v)
            case let .string(name, v): (p.name, p.type, p.s) = (name, .string, Data(v.utf8))
            case let .strings(name, v): (p.name, p.type, p.strings) = (name, .strings, v.map { Data($0.utf8) })
            }
            return p
        }
        nodes.append(n)
        return names
    }

    /// A float initializer (once per name).
    @discardableResult
    mutating func floats(_ name: String, _ dims: [Int], _ values: [Float]) -> String {
        precondition(dims.reduce(1, *) == values.count, "initializer \(name): shape and values disagree")
        if names.insert(name).inserted {
            var t = Onnx_TensorProto()
            t.name = name
            t.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            t.dims = dims.map(Int64.init)
            t.rawData = values.withUnsafeBufferPointer { b in Data(buffer: b) }  // little-endian on every platform RNNKit runs on
            initializers.append(t)
        }
        return name
    }

    /// An int64 initializer (shapes, axes), once per name.
    mutating func int64s(_ name: String, _ values: [Int64]) -> String {
        if names.insert(name).inserted {
            var t = Onnx_TensorProto()
            t.name = name
            t.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
            t.dims = [Int64(values.count)]
            t.int64Data = values
            initializers.append(t)
        }
        return name
    }

    func weight(_ name: String) throws(RNNKitError) -> Tensor<Float> {
        guard let t = weights[name] else {
            throw .invalidValue(argument: "weights", expected: "a tensor '\(name)'", found: "none", hint: "Export a whole checkpoint.")
        }
        return t
    }

    /// `x · Wᵀ + b` of the Dense layer `prefix` (`nn.Linear`): MatMul with the transposed weight, then Add.
    mutating func dense(_ x: String, prefix: String, output: String? = nil) throws(RNNKitError) -> String {
        let w = try weight(prefix + ".weight"), b = try weight(prefix + ".bias")
        let (out, inp) = (w.shape[0], w.shape[1])
        let s = w.scalars
        var transposed = [Float](repeating: 0, count: s.count)
        for o in 0..<out { for i in 0..<inp { transposed[i * out + o] = s[o * inp + i] } }
        let product = node("MatMul", [x, floats(prefix + ".weight_t", [inp, out], transposed)])[0]
        return node("Add", [product, floats(prefix + ".bias", [out], b.scalars)], outputs: output.map { [$0] })[0]
    }

    /// One layer of `r` over time-major `x`: an ONNX LSTM, GRU or RNN node with W, R and B built from
    /// PyTorch's `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}` (and `_reverse`),
    /// gate blocks reordered; `initial` names the layer's initial states `(D, B, H)`. Returns Y
    /// `(T, D, B, H)`, Y_h `(D, B, H)` and, for an LSTM, Y_c.
    mutating func recurrent(_ x: String, _ r: RecurrentConfiguration, layer k: Int, lengths: String?,
                            initial: (h: String, c: String?)? = nil) throws(RNNKitError) -> (y: String, yh: String, yc: String?) {
        let H = r.hiddenSize, order = ONNXExport.gateOrder(r.cell), G = order.count
        let suffixes = r.isBidirectional ? ["", "_reverse"] : [""]
        var W: [Float] = [], R: [Float] = [], B: [Float] = []
        var inputSize = 0
        func reordered(_ t: Tensor<Float>) -> [Float] {
            let s = t.scalars, width = t.count / (G * H)
            return order.flatMap { g in s[(g * H * width)..<((g + 1) * H * width)] }
        }
        for suffix in suffixes {
            let wih = try weight("rnn.weight_ih_l\(k)\(suffix)"), whh = try weight("rnn.weight_hh_l\(k)\(suffix)")
            inputSize = wih.shape[1]
            W += reordered(wih)
            R += reordered(whh)
            B += reordered(try weight("rnn.bias_ih_l\(k)\(suffix)")) + reordered(try weight("rnn.bias_hh_l\(k)\(suffix)"))
        }
        let D = suffixes.count, tag = "l\(k)"
        let op: String
        var attributes: [Attribute] = [.int("hidden_size", Int64(H)), .string("direction", D == 2 ? "bidirectional" : "forward")]
        switch r.cell {
        case .lstm: op = "LSTM"
        case .gru:
            op = "GRU"
            attributes.append(.int("linear_before_reset", 1))  // PyTorch: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
        case .rnnTanh, .rnnRelu:
            op = "RNN"
            attributes.append(.strings("activations", Array(repeating: r.cell == .rnnRelu ? "Relu" : "Tanh", count: D)))
        }
        var inputs = [x, floats("W_\(tag)", [D, G * H, inputSize], W), floats("R_\(tag)", [D, G * H, H], R),
                      floats("B_\(tag)", [D, 2 * G * H], B)]
        if lengths != nil || initial != nil { inputs.append(lengths ?? "") }  // "" leaves an optional input out
        if let initial { inputs += [initial.h] + (initial.c.map { [$0] } ?? []) }
        let outputs = node(op, inputs, outputs: ["Y_\(tag)", "Y_h_\(tag)"] + (r.cell == .lstm ? ["Y_c_\(tag)"] : []), attributes: attributes)
        return (outputs[0], outputs[1], r.cell == .lstm ? outputs[2] : nil)
    }
}
