import ArgumentParser
import Foundation
import RNNKit

struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Export a saved model to run elsewhere.", subcommands: [ExportONNX.self])
}

struct ExportONNX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "onnx",
        abstract: "Write a saved model as an ONNX file (standard LSTM/GRU/RNN nodes) for ONNX Runtime and the converters that read ONNX.",
        discussion: """
        Image-row classifiers, sequence models and forecasters take `input` (batch, time, features), as the PyTorch \
        module of the checkpoint does: apply config.json's featureScaling first (and undo targetScaling on a \
        regressor's outputs). Sequence models also take `lengths` (batch) int32. A character model gives two files: \
        `ids` (batch, time) int64 → logits and final states, and FILE-step.onnx, one character with the states in and \
        out, for streaming. Dropout is training-only and not exported.
        """)

    @Option(help: "Checkpoint folder.") var model: String
    @Option(help: "The ONNX file to write (default: DIR/model.onnx).") var out: String?
    @Option(help: "ONNX opset (\(ONNXExport.opsets.lowerBound)–\(ONNXExport.opsets.upperBound)).") var opset = 14

    func validate() throws {
        if !ONNXExport.opsets.contains(opset) {
            throw ValidationError("--opset must be \(ONNXExport.opsets.lowerBound)–\(ONNXExport.opsets.upperBound) (found \(opset)); 14 is read everywhere.")
        }
    }

    func run() throws {
        let configPath = model + "/config.json"
        guard let bytes = FileManager.default.contents(atPath: configPath) else {
            throw DataError.missing(path: configPath, what: "a checkpoint's config.json", hint: "Give the folder a `rnnkit train` run saved.")
        }
        let task = ((try? JSONSerialization.jsonObject(with: bytes)) as? [String: Any])?["task"] as? String
        let path = out ?? model + "/model.onnx"
        let onnx: Onnx_ModelProto
        switch task {
        case "mnist", "sequences", "forecast":
            let loaded = try ClassifierCheckpoint.load(from: model, forResume: false, task: task!)
            let weights = Dictionary(uniqueKeysWithValues: loaded.model.namedParameters.map { ($0.name, $0.variable.value) })
            onnx = try ONNXExport.classifier(loaded.configuration.model, weights: weights, withLengths: task == "sequences", opset: opset,
                                             name: "rnnkit-\(task!)")
        case "charlm":
            // Two files: the sequence graph, and the one-step graph for streaming (model-step.onnx).
            let loaded = try CharLMCheckpoint.load(from: model, forResume: false)
            onnx = try ONNXExport.characterModel(loaded.configuration.model, weights: loaded.best, step: false, opset: opset)
            let stepPath = ((path as NSString).deletingPathExtension) + "-step." + ((path as NSString).pathExtension.isEmpty ? "onnx" : (path as NSString).pathExtension)
            let step = try ONNXExport.characterModel(loaded.configuration.model, weights: loaded.best, step: true, opset: opset)
            try writeDataFile(try step.serializedData(), to: stepPath)
            log("\(stepPath): the one-step graph (ids, h\(step.graph.input.count == 3 ? ", c" : "") → logits, next states)")
        default:
            throw DataError.malformed(path: configPath, problem: "not a model RNNKit exports", expected: "task mnist, sequences, forecast or charlm",
                                      found: task.map { "\"\($0)\"" } ?? "no task", hint: "Export a folder a `rnnkit train` run saved.")
        }
        try writeDataFile(try onnx.serializedData(), to: path)
        log("\(path): ONNX IR \(ONNXExport.irVersion), opset \(opset), \(onnx.graph.node.count) nodes, "
            + "\(onnx.graph.initializer.count) initializers; inputs \(onnx.graph.input.map(\.name).joined(separator: ", ")), output \(onnx.graph.output[0].name)")
    }
}
