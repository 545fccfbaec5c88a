"""The seed's GradientTape training loop, run as written with ``import tapegrad as tf``.

The model is the course's quickstart CNN (Conv2D(32, 3, relu) → Flatten → Dense(128, relu) →
Dense(10, softmax)); the data are the bundled 8×8 handwritten digits. Everything from
"loss_function = ..." to the epoch loop is the seed's code verbatim, plus the metric resets
at the start of each epoch that TensorFlow's own quickstart has.

    python examples/quickstart.py
"""
import tapegrad as tf
from tapegrad.keras import Model
from tapegrad.keras.layers import Conv2D, Dense, Flatten

tf.keras.utils.set_random_seed(0)

(x_train, y_train), (x_test, y_test) = tf.keras.datasets.digits.load_data()
x_train, x_test = x_train / 255.0, x_test / 255.0
x_train = x_train[..., tf.newaxis].astype("float32")
x_test = x_test[..., tf.newaxis].astype("float32")

train_ds = tf.data.Dataset.from_tensor_slices((x_train, y_train)).shuffle(10000).batch(32)
test_ds = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(32)


class MyModel(Model):
    def __init__(self):
        super().__init__()
        self.conv1 = Conv2D(32, 3, activation="relu")
        self.flatten = Flatten()
        self.d1 = Dense(128, activation="relu")
        self.d2 = Dense(10, activation="softmax")

    def call(self, x):
        x = self.conv1(x)
        x = self.flatten(x)
        x = self.d1(x)
        return self.d2(x)


model = MyModel()

# Loss Function을 변수로 정의
loss_function = tf.keras.losses.SparseCategoricalCrossentropy()
# Optimizer를 변수로 정의
optimizer = tf.keras.optimizers.Adam()
# Metric 을 변수로 정의, Train, Test 분리
train_acc = tf.keras.metrics.SparseCategoricalAccuracy()
test_acc = tf.keras.metrics.SparseCategoricalAccuracy()

# Loss 정의
train_loss = tf.keras.metrics.Mean()
test_loss = tf.keras.metrics.Mean()


@tf.function
def train_step(images, labels):
    # 미분을 위한 GradientTape을 적용합니다.
    with tf.GradientTape() as tape:
        # 1. 예측 (prediction)
        predictions = model(images)
        # 2. Loss 계산
        loss = loss_function(labels, predictions)

    # 3. 그라디언트(gradients) 계산
    gradients = tape.gradient(loss, model.trainable_variables)

    # 4. 오차역전파(Backpropagation) - weight 업데이트
    optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    # loss와 accuracy를 업데이트 합니다.
    train_loss(loss)
    train_acc(labels, predictions)


@tf.function
def test_step(images, labels):
    # 1. 예측 (prediction)
    predictions = model(images)
    # 2. Loss 계산
    loss = loss_function(labels, predictions)

    # loss와 accuracy를 업데이트 합니다.
    test_loss(loss)
    test_acc(labels, predictions)


EPOCHS = 5

for epoch in range(EPOCHS):
    # Not in the seed: TensorFlow's quickstart starts each epoch with fresh metrics; without
    # these four lines every printed number is a running mean over all epochs so far.
    train_loss.reset_state()
    train_acc.reset_state()
    test_loss.reset_state()
    test_acc.reset_state()

    for images, labels in train_ds:
        train_step(images, labels)

    for test_images, test_labels in test_ds:
        test_step(test_images, test_labels)

    template = '에포크: {}, 손실: {:.5f}, 정확도: {:.2f}%, 테스트 손실: {:.5f}, 테스트 정확도: {:.2f}%'
    print (template.format(epoch+1,
                           train_loss.result(),
                           train_acc.result()*100,
                           test_loss.result(),
                           test_acc.result()*100))
