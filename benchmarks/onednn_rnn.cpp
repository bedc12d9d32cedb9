// oneDNN's RNN primitive driven directly: the engine PyTorch's CPU LSTM/GRU sits on, without the
// framework around it. benchmarks/compare.py builds this against Debian's libdnnl-dev and prints
// it as a column beside RNNKit and PyTorch; the tests never need it.
//
//   g++ -O2 -std=c++17 benchmarks/onednn_rnn.cpp -ldnnl -o .build/onednn_rnn
//   .build/onednn_rnn CELL HIDDEN LAYERS BIDIRECTIONAL BATCH STEPS FEATURES SECONDS
//
// CELL is lstm or gru (oneDNN's linear-before-reset GRU, PyTorch's formulation). One primitive per
// layer, chained (oneDNN's multi-layer primitive needs the input width to equal the hidden width);
// zero initial states; float32, layout tnc. Training runs each layer's forward (training, with its
// workspace) then the backward passes in reverse, plus the reorder of the weights into the layout
// the backward primitive wants (a real training step needs it, as the weights change). Inference
// runs the forward (inference) passes, with the weights in the inference primitive's layout
// (prepared once). No output layer, loss or optimizer: the recurrent layers
// only. Prints one JSON line: train_samples_per_s, infer_samples_per_s.
#include <oneapi/dnnl/dnnl.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

using namespace dnnl;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

void fill(memory &m, float value) {
    auto *p = static_cast<float *>(m.get_data_handle());
    size_t n = m.get_desc().get_size() / sizeof(float);
    // Values in [−value, value), spread by a multiplicative hash.
    for (size_t i = 0; i < n; i++) p[i] = value * (static_cast<float>((i * 2654435761u) % 1000) / 500.0f - 1.0f);
}

memory make(const memory::desc &d, const engine &e, float value = 0.01f) {
    memory m(d, e);
    fill(m, value);
    return m;
}

/// Weights in the layout `d` wants, holding the values of a plain (ldigo) fill: some layouts
/// (oneDNN's packed inference weights) carry metadata, so they are made by a reorder, never filled.
memory weights(const memory::desc &d, const memory::dims &dims, engine &e, stream &s) {
    memory plain = make(memory::desc(dims, dt::f32, tag::ldigo), e, 0.1f);
    memory m(d, e);
    reorder(plain, m).execute(s, plain, m);
    s.wait();
    return m;
}

struct Layer {
    memory src, dst, workspace, weightsLayer, weightsIter, bias;
    memory inferWeightsLayer, inferWeightsIter;  // inference may want its own layout: prepared once, as fixed weights allow
    memory bwdWeightsLayer, bwdWeightsIter, diffWeightsLayer, diffWeightsIter, diffBias, diffSrc, diffDst;
    primitive forwardTraining, forwardInference, backward, toBackwardLayer, toBackwardIter;
    bool reorderLayer = false, reorderIter = false;
};

/// The layer's primitives and weights from its three primitive descriptors (LSTM or GRU alike).
template <typename Forward, typename Backward>
void prepare(Layer &layer, const typename Forward::primitive_desc &train, const typename Forward::primitive_desc &infer,
             const typename Backward::primitive_desc &back, const memory::dims &wlDims, const memory::dims &wiDims, engine &eng,
             stream &s) {
    layer.forwardTraining = Forward(train);
    layer.forwardInference = Forward(infer);
    layer.backward = Backward(back);
    layer.weightsLayer = weights(train.weights_layer_desc(), wlDims, eng, s);
    layer.weightsIter = weights(train.weights_iter_desc(), wiDims, eng, s);
    layer.workspace = memory(train.workspace_desc(), eng);
    layer.bwdWeightsLayer = weights(back.weights_layer_desc(), wlDims, eng, s);
    layer.bwdWeightsIter = weights(back.weights_iter_desc(), wiDims, eng, s);
    layer.diffWeightsLayer = make(back.diff_weights_layer_desc(), eng, 0);
    layer.diffWeightsIter = make(back.diff_weights_iter_desc(), eng, 0);
    layer.reorderLayer = back.weights_layer_desc() != train.weights_layer_desc();
    layer.reorderIter = back.weights_iter_desc() != train.weights_iter_desc();
    layer.inferWeightsLayer = weights(infer.weights_layer_desc(), wlDims, eng, s);
    layer.inferWeightsIter = weights(infer.weights_iter_desc(), wiDims, eng, s);
    if (layer.reorderLayer) layer.toBackwardLayer = reorder(layer.weightsLayer, layer.bwdWeightsLayer);
    if (layer.reorderIter) layer.toBackwardIter = reorder(layer.weightsIter, layer.bwdWeightsIter);
}

double rate(double seconds, const std::function<void()> &body) {
    body();  // warm-up
    body();
    auto start = std::chrono::steady_clock::now();
    long runs = 0;
    double elapsed = 0;
    do {
        body();
        runs++;
        elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < seconds);
    return runs / elapsed;
}

}  // namespace

int main(int argc, char **argv) {
    if (argc != 9) {
        std::fprintf(stderr, "usage: %s lstm|gru HIDDEN LAYERS BIDIRECTIONAL(0|1) BATCH STEPS FEATURES SECONDS\n", argv[0]);
        return 2;
    }
    const bool lstm = std::strcmp(argv[1], "lstm") == 0;
    const memory::dim H = std::atol(argv[2]), L = std::atol(argv[3]), D = std::atol(argv[4]) ? 2 : 1,
                      N = std::atol(argv[5]), T = std::atol(argv[6]), F = std::atol(argv[7]);
    const double seconds = std::atof(argv[8]);
    const memory::dim G = lstm ? 4 : 3, biasGates = lstm ? 4 : 4;  // lbr_gru has a fourth bias (b_hn)
    const auto direction = D == 2 ? rnn_direction::bidirectional_concat : rnn_direction::unidirectional_left2right;

    engine eng(engine::kind::cpu, 0);
    stream s(eng);
    std::vector<Layer> layers(L);
    memory input = make(memory::desc({T, N, F}, dt::f32, tag::tnc), eng, 1.0f);
    const memory::desc none;

    for (memory::dim l = 0; l < L; l++) {
        Layer &layer = layers[l];
        const memory::dim C = l == 0 ? F : D * H;
        memory::desc src({T, N, C}, dt::f32, tag::tnc), dst({T, N, D * H}, dt::f32, tag::tnc);
        const memory::dims wlDims = {1, D, C, G, H}, wiDims = {1, D, H, G, H};
        memory::desc wlAny(wlDims, dt::f32, tag::any), wiAny(wiDims, dt::f32, tag::any);
        memory::desc bias({1, D, biasGates, H}, dt::f32, tag::ldgo);
        layer.src = l == 0 ? input : layers[l - 1].dst;
        layer.diffDst = make(dst, eng, 0.01f);
        layer.diffSrc = make(src, eng, 0.0f);

        if (lstm) {
            lstm_forward::primitive_desc train(
                lstm_forward::desc(prop_kind::forward_training, direction, src, none, none, wlAny, wiAny, bias, dst, none, none), eng);
            lstm_forward::primitive_desc infer(
                lstm_forward::desc(prop_kind::forward_inference, direction, src, none, none, wlAny, wiAny, bias, dst, none, none), eng);
            lstm_backward::primitive_desc back(
                lstm_backward::desc(prop_kind::backward, direction, src, none, none, wlAny, wiAny, bias, dst, none, none, src, none, none,
                                    wlAny, wiAny, bias, dst, none, none),
                eng, train);
            prepare<lstm_forward, lstm_backward>(layer, train, infer, back, wlDims, wiDims, eng, s);
        } else {
            lbr_gru_forward::primitive_desc train(
                lbr_gru_forward::desc(prop_kind::forward_training, direction, src, none, wlAny, wiAny, bias, dst, none), eng);
            lbr_gru_forward::primitive_desc infer(
                lbr_gru_forward::desc(prop_kind::forward_inference, direction, src, none, wlAny, wiAny, bias, dst, none), eng);
            lbr_gru_backward::primitive_desc back(
                lbr_gru_backward::desc(prop_kind::backward, direction, src, none, wlAny, wiAny, bias, dst, none, src, none, wlAny, wiAny,
                                       bias, dst, none),
                eng, train);
            prepare<lbr_gru_forward, lbr_gru_backward>(layer, train, infer, back, wlDims, wiDims, eng, s);
        }
        layer.bias = make(bias, eng);
        layer.diffBias = make(bias, eng, 0);
        layer.dst = make(dst, eng, 0);
    }

    auto forward = [&](bool training) {
        for (Layer &layer : layers) {
            std::unordered_map<int, memory> args = {{DNNL_ARG_SRC_LAYER, layer.src},
                                                    {DNNL_ARG_WEIGHTS_LAYER, training ? layer.weightsLayer : layer.inferWeightsLayer},
                                                    {DNNL_ARG_WEIGHTS_ITER, training ? layer.weightsIter : layer.inferWeightsIter},
                                                    {DNNL_ARG_BIAS, layer.bias},
                                                    {DNNL_ARG_DST_LAYER, layer.dst}};
            if (training) args[DNNL_ARG_WORKSPACE] = layer.workspace;
            (training ? layer.forwardTraining : layer.forwardInference).execute(s, args);
        }
    };
    auto train = [&]() {
        forward(true);
        for (size_t i = layers.size(); i-- > 0;) {
            Layer &layer = layers[i];
            if (layer.reorderLayer) layer.toBackwardLayer.execute(s, {{DNNL_ARG_FROM, layer.weightsLayer}, {DNNL_ARG_TO, layer.bwdWeightsLayer}});
            if (layer.reorderIter) layer.toBackwardIter.execute(s, {{DNNL_ARG_FROM, layer.weightsIter}, {DNNL_ARG_TO, layer.bwdWeightsIter}});
            layer.backward.execute(s, {{DNNL_ARG_SRC_LAYER, layer.src},
                                       {DNNL_ARG_WEIGHTS_LAYER, layer.reorderLayer ? layer.bwdWeightsLayer : layer.weightsLayer},
                                       {DNNL_ARG_WEIGHTS_ITER, layer.reorderIter ? layer.bwdWeightsIter : layer.weightsIter},
                                       {DNNL_ARG_BIAS, layer.bias},
                                       {DNNL_ARG_DST_LAYER, layer.dst},
                                       {DNNL_ARG_DIFF_DST_LAYER, i + 1 < layers.size() ? layers[i + 1].diffSrc : layer.diffDst},
                                       {DNNL_ARG_WORKSPACE, layer.workspace},
                                       {DNNL_ARG_DIFF_SRC_LAYER, layer.diffSrc},
                                       {DNNL_ARG_DIFF_WEIGHTS_LAYER, layer.diffWeightsLayer},
                                       {DNNL_ARG_DIFF_WEIGHTS_ITER, layer.diffWeightsIter},
                                       {DNNL_ARG_DIFF_BIAS, layer.diffBias}});
        }
        s.wait();
    };
    auto infer = [&]() {
        forward(false);
        s.wait();
    };
    const double trainRate = rate(seconds, train) * N, inferRate = rate(seconds, infer) * N;
    std::printf("{\"train_samples_per_s\": %.3f, \"infer_samples_per_s\": %.3f}\n", trainRate, inferRate);
    return 0;
}
