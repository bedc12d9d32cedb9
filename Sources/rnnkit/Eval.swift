import ArgumentParser
import Foundation
import RNNKit

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Evaluate a saved model.", subcommands: [EvalMNIST.self, EvalSequences.self, EvalForecast.self, CharLMEval.self, Seq2SeqEval.self])
}

struct EvalMNIST: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mnist", abstract: "Test loss, accuracy and confusion matrix of a saved image-row classifier.")

    @OptionGroup var saved: SavedModelOptions
    @Flag(help: "End with one line of JSON holding the results.") var json = false
    @Option(help: "Also write the logits of the first N test images to this safetensors file (tensor 'logits').")
    var saveLogits: String?
    @Option(help: "How many test images --save-logits covers.") var logitsCount = 1000

    func run() throws {
        let (loaded, test, directory) = try saved.load()
        if let saveLogits {
            let (images, _) = test.batch(0..<min(logitsCount, test.count))
            let logits = try loaded.model.logits(images)
            try Data(SafeTensors.encode(["logits": logits])).write(to: URL(fileURLWithPath: saveLogits), options: .atomic)
        }
        let e = try evaluate(loaded.model, on: test)
        let names = loaded.configuration.data.classNames
        print(String(format: "test loss %.4f  test accuracy %.2f%%  (%d images from %@)", e.loss, 100 * e.accuracy, test.count, directory))
        printConfusion(e.confusion, names: names)
        if json {
            printJSONLine(["test_accuracy": e.accuracy, "test_loss": e.loss, "epochs": loaded.progress?.epoch ?? NSNull(),
                           "confusion": e.confusion, "model": saved.model, "images": test.count])
        }
    }
}
