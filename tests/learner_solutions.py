"""Whole solutions in the styles learners wrote for this project, ported to tf.compat.v1 only where
tf.contrib is gone. The course's reviewers passed each style; the checks and the review must too.

Each is {function name: its definition}, dropped into the notebook in place of the reference solution.
"""

# The course's own solution style: learning rate with no shape, tf.maximum for leaky ReLU, 5x5 kernels,
# an explicit reshape, no label smoothing, the generator built from 7x7x512, D and G in separate runs,
# and a train that reads the global `epochs` and scales the batch as the old helper needed.
COURSE_STYLE = {
    'model_inputs': '''
def model_inputs(image_width, image_height, image_channels, z_dim):
    inputs_real = tf.placeholder(tf.float32, (None, image_width, image_height, image_channels), name='input_real')
    inputs_z = tf.placeholder(tf.float32, (None, z_dim), name='input_z')
    learning_rate = tf.placeholder(tf.float32, name='learning_rate')
    return inputs_real, inputs_z, learning_rate
''',
    'discriminator': '''
def discriminator(images, reuse=False):
    alpha = 0.2
    with tf.variable_scope('discriminator', reuse=reuse):
        x1 = tf.layers.conv2d(images, 64, 5, strides=2, padding='same')
        relu1 = tf.maximum(alpha * x1, x1)
        x2 = tf.layers.conv2d(relu1, 128, 5, strides=2, padding='same')
        bn2 = tf.layers.batch_normalization(x2, training=True)
        relu2 = tf.maximum(alpha * bn2, bn2)
        x3 = tf.layers.conv2d(relu2, 256, 5, strides=2, padding='same')
        bn3 = tf.layers.batch_normalization(x3, training=True)
        relu3 = tf.maximum(alpha * bn3, bn3)
        flat = tf.reshape(relu3, (-1, 4 * 4 * 256))
        logits = tf.layers.dense(flat, 1)
        out = tf.sigmoid(logits)
    return out, logits
''',
    'generator': '''
def generator(z, out_channel_dim, is_train=True):
    alpha = 0.2
    with tf.variable_scope('generator', reuse=not is_train):
        x1 = tf.layers.dense(z, 7 * 7 * 512)
        x1 = tf.reshape(x1, (-1, 7, 7, 512))
        x1 = tf.layers.batch_normalization(x1, training=is_train)
        x1 = tf.maximum(alpha * x1, x1)
        x2 = tf.layers.conv2d_transpose(x1, 256, 5, strides=2, padding='same')
        x2 = tf.layers.batch_normalization(x2, training=is_train)
        x2 = tf.maximum(alpha * x2, x2)
        logits = tf.layers.conv2d_transpose(x2, out_channel_dim, 5, strides=2, padding='same')
        out = tf.tanh(logits)
    return out
''',
    'model_loss': '''
def model_loss(input_real, input_z, out_channel_dim):
    g_model = generator(input_z, out_channel_dim)
    d_model_real, d_logits_real = discriminator(input_real)
    d_model_fake, d_logits_fake = discriminator(g_model, reuse=True)
    d_loss_real = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_real, labels=tf.ones_like(d_model_real)))
    d_loss_fake = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_fake, labels=tf.zeros_like(d_model_fake)))
    g_loss = tf.reduce_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(logits=d_logits_fake, labels=tf.ones_like(d_model_fake)))
    d_loss = d_loss_real + d_loss_fake
    return d_loss, g_loss
''',
    'model_opt': '''
def model_opt(d_loss, g_loss, learning_rate, beta1):
    t_vars = tf.trainable_variables()
    d_vars = [var for var in t_vars if var.name.startswith('discriminator')]
    g_vars = [var for var in t_vars if var.name.startswith('generator')]
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss, var_list=d_vars)
        g_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(g_loss, var_list=g_vars)
    return d_train_opt, g_train_opt
''',
    'train': '''
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
    input_real, input_z, lr = model_inputs(data_shape[1], data_shape[2], data_shape[3], z_dim)
    d_loss, g_loss = model_loss(input_real, input_z, data_shape[3])
    d_opt, g_opt = model_opt(d_loss, g_loss, lr, beta1)
    steps = 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                steps += 1
                batch_images = batch_images * 2
                batch_z = np.random.uniform(-1, 1, size=(batch_size, z_dim))
                _ = sess.run(d_opt, feed_dict={input_real: batch_images, input_z: batch_z, lr: learning_rate})
                _ = sess.run(g_opt, feed_dict={input_real: batch_images, input_z: batch_z, lr: learning_rate})
                if steps % 10 == 0:
                    train_loss_d = d_loss.eval({input_z: batch_z, input_real: batch_images})
                    train_loss_g = g_loss.eval({input_z: batch_z})
                    print("Epoch {}/{}...".format(epoch_i + 1, epochs),
                          "Discriminator Loss: {:.4f}...".format(train_loss_d),
                          "Generator Loss: {:.4f}".format(train_loss_g))
                if steps % 100 == 0:
                    show_generator_output(sess, 25, input_z, data_shape[3], data_image_mode)
''',
}

# Smoothing written as (1 - smooth), dropout in both networks (left on when sampling), the generator grown
# from 2x2 with a 'valid' transposed convolution, Xavier initialization (tf.contrib's, now Glorot's), each
# optimizer running only its own network's batch-norm updates, and a train that prints every 20 batches.
DROPOUT_STYLE = {
    'model_inputs': '''
def model_inputs(image_width, image_height, image_channels, z_dim):
    real_input = tf.placeholder(tf.float32, shape=[None, image_width, image_height, image_channels], name="real_input")
    z_input = tf.placeholder(tf.float32, shape=[None, z_dim], name="z_input")
    lr = tf.placeholder(tf.float32, shape=[], name="learning_rate")
    return real_input, z_input, lr
''',
    'discriminator': '''
def discriminator(images, reuse=False, alpha=0.2, keep_prob=0.8):
    init = tf.glorot_uniform_initializer()
    with tf.variable_scope('discriminator', reuse=reuse):
        h1 = tf.layers.conv2d(images, 64, 5, 2, 'same', kernel_initializer=init)
        h1 = tf.nn.leaky_relu(h1, alpha=alpha)
        h2 = tf.layers.conv2d(h1, 128, 5, 2, 'same', kernel_initializer=init)
        h2 = tf.nn.leaky_relu(tf.layers.batch_normalization(h2, training=True), alpha=alpha)
        h2 = tf.nn.dropout(h2, keep_prob=keep_prob)
        h3 = tf.layers.conv2d(h2, 256, 5, 2, 'same', kernel_initializer=init)
        h3 = tf.nn.leaky_relu(tf.layers.batch_normalization(h3, training=True), alpha=alpha)
        h3 = tf.nn.dropout(h3, keep_prob=keep_prob)
        logits = tf.layers.dense(tf.layers.flatten(h3), 1, kernel_initializer=init)
        return tf.nn.sigmoid(logits), logits
''',
    'generator': '''
def generator(z, out_channel_dim, is_train=True, alpha=0.2, keep_prob=0.5):
    init = tf.glorot_uniform_initializer()
    with tf.variable_scope('generator', reuse=not is_train):
        h1 = tf.reshape(tf.layers.dense(z, 2 * 2 * 512, kernel_initializer=init), (-1, 2, 2, 512))
        h1 = tf.nn.leaky_relu(tf.layers.batch_normalization(h1, training=is_train), alpha=alpha)
        h2 = tf.layers.conv2d_transpose(h1, 256, 5, 2, 'valid', kernel_initializer=init)  # 7x7
        h2 = tf.nn.leaky_relu(tf.layers.batch_normalization(h2, training=is_train), alpha=alpha)
        h2 = tf.nn.dropout(h2, keep_prob=keep_prob)
        h3 = tf.layers.conv2d_transpose(h2, 128, 5, 2, 'same', kernel_initializer=init)  # 14x14
        h3 = tf.nn.leaky_relu(tf.layers.batch_normalization(h3, training=is_train), alpha=alpha)
        h3 = tf.nn.dropout(h3, keep_prob=keep_prob)
        logits = tf.layers.conv2d_transpose(h3, out_channel_dim, 5, 2, 'same', kernel_initializer=init)
        return tf.tanh(logits)
''',
    'model_loss': '''
def model_loss(input_real, input_z, out_channel_dim, smooth=0.1):
    g_model = generator(input_z, out_channel_dim, is_train=True)
    d_model_real, d_logits_real = discriminator(input_real, reuse=False)
    d_model_fake, d_logits_fake = discriminator(g_model, reuse=True)
    d_loss_real = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_real, labels=tf.ones_like(d_model_real) * (1 - smooth)))
    d_loss_fake = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.zeros_like(d_model_fake)))
    g_loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(
        logits=d_logits_fake, labels=tf.ones_like(d_model_fake)))
    return d_loss_real + d_loss_fake, g_loss
''',
    'model_opt': '''
def model_opt(d_loss, g_loss, learning_rate, beta1):
    t_vars = tf.trainable_variables()
    d_vars = [var for var in t_vars if 'discriminator' in var.name]
    g_vars = [var for var in t_vars if 'generator' in var.name]
    update_ops = tf.get_collection(tf.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies([op for op in update_ops if op.name.startswith('discriminator')]):
        d_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(d_loss, var_list=d_vars)
    with tf.control_dependencies([op for op in update_ops if op.name.startswith('generator')]):
        g_train_opt = tf.train.AdamOptimizer(learning_rate, beta1=beta1).minimize(g_loss, var_list=g_vars)
    return d_train_opt, g_train_opt
''',
    'train': '''
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
    real_input, z_input, lr = model_inputs(data_shape[1], data_shape[2], data_shape[3], z_dim)
    d_loss, g_loss = model_loss(real_input, z_input, data_shape[3])
    d_opt, g_opt = model_opt(d_loss, g_loss, lr, beta1)
    print_every, show_every, step = 20, 100, 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                step += 1
                batch_z = np.random.uniform(-1, 1, size=(len(batch_images), z_dim))
                feed = {real_input: batch_images, z_input: batch_z, lr: learning_rate}
                sess.run(d_opt, feed_dict=feed)
                sess.run(g_opt, feed_dict=feed)
                if step % print_every == 0:
                    d_value, g_value = sess.run([d_loss, g_loss], feed_dict=feed)
                    print(f"Epoch {epoch_i + 1}/{epoch_count} d_loss: {d_value:.4f} g_loss: {g_value:.4f}")
                if step % show_every == 0:
                    show_generator_output(sess, 25, z_input, data_shape[3], data_image_mode)
''',
}

# Two-sided label smoothing through tf.losses (real 0.95, fake 0.05, the generator aiming at 0.95), plain
# ReLU in the generator with no batch norm on its second layer, reuse decided by an if, a small leaky slope,
# the optimizers found with tf.trainable_variables(scope=...), and the learning rate passed as a number.
LOSSES_STYLE = {
    'model_inputs': '''
def model_inputs(image_width, image_height, image_channels, z_dim):
    return (tf.placeholder(tf.float32, (None, image_width, image_height, image_channels)),
            tf.placeholder(tf.float32, (None, z_dim)),
            tf.placeholder(tf.float32, None))
''',
    'discriminator': '''
def discriminator(images, reuse=False):
    with tf.variable_scope('discriminator', reuse=reuse):
        x = tf.nn.leaky_relu(tf.layers.conv2d(images, 32, 3, strides=2, padding='same'), alpha=0.02)
        x = tf.layers.conv2d(x, 64, 3, strides=2, padding='same')
        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha=0.02)
        x = tf.layers.conv2d(x, 128, 3, strides=1, padding='same')
        x = tf.nn.leaky_relu(tf.layers.batch_normalization(x, training=True), alpha=0.02)
        logits = tf.layers.dense(tf.reshape(x, (-1, 7 * 7 * 128)), 1)
    return tf.sigmoid(logits), logits
''',
    'generator': '''
def generator(z, out_channel_dim, is_train=True):
    if is_train:
        reuse = False
    else:
        reuse = True
    with tf.variable_scope('generator', reuse=reuse):
        x = tf.layers.dense(z, 7 * 7 * 256)
        x = tf.nn.relu(tf.layers.batch_normalization(tf.reshape(x, (-1, 7, 7, 256)), training=is_train))
        x = tf.nn.relu(tf.layers.conv2d_transpose(x, 128, 3, strides=2, padding='same'))
        x = tf.layers.conv2d_transpose(x, out_channel_dim, 3, strides=2, padding='same')
        return tf.tanh(x)
''',
    'model_loss': '''
def model_loss(input_real, input_z, out_channel_dim):
    fake = generator(input_z, out_channel_dim, True)
    _, real_logits = discriminator(input_real, False)
    _, fake_logits = discriminator(fake, True)
    d_loss = (tf.losses.sigmoid_cross_entropy(tf.ones_like(real_logits), real_logits, label_smoothing=0.1) +
              tf.losses.sigmoid_cross_entropy(tf.zeros_like(fake_logits), fake_logits, label_smoothing=0.1))
    g_loss = tf.losses.sigmoid_cross_entropy(tf.ones_like(fake_logits), fake_logits, label_smoothing=0.1)
    return d_loss, g_loss
''',
    'model_opt': '''
def model_opt(d_loss, g_loss, learning_rate, beta1):
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        d_opt = tf.train.AdamOptimizer(learning_rate, beta1).minimize(
            d_loss, var_list=tf.trainable_variables(scope='discriminator'))
        g_opt = tf.train.AdamOptimizer(learning_rate, beta1).minimize(
            g_loss, var_list=tf.trainable_variables(scope='generator'))
    return d_opt, g_opt
''',
    'train': '''
def train(epoch_count, batch_size, z_dim, learning_rate, beta1, get_batches, data_shape, data_image_mode):
    input_real, input_z, _ = model_inputs(*data_shape[1:], z_dim)
    d_loss, g_loss = model_loss(input_real, input_z, data_shape[3])
    d_opt, g_opt = model_opt(d_loss, g_loss, learning_rate, beta1)
    batches = 0
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for epoch_i in range(epoch_count):
            for batch_images in get_batches(batch_size):
                batches += 1
                z = np.random.uniform(-1, 1, (batch_size, z_dim))
                sess.run(d_opt, {input_real: batch_images, input_z: z})
                sess.run(g_opt, {input_real: batch_images, input_z: z})
                sess.run(g_opt, {input_real: batch_images, input_z: z})
                if batches % 100 == 0:
                    d, g = sess.run([d_loss, g_loss], {input_real: batch_images, input_z: z})
                    print('Epoch', epoch_i + 1, 'Discriminator Loss', d, 'Generator Loss', g)
                    show_generator_output(sess, 16, input_z, data_shape[3], data_image_mode)
''',
}

# name: (solution, {function: words of each suggestion its check prints})
SOLUTIONS = {
    'course_style': (COURSE_STYLE, {'model_loss': ['one-sided label smoothing']}),
    'dropout_style': (DROPOUT_STYLE, {'discriminator': ['dropout on top of batch normalization'],
                                      'generator': ['dropout left on']}),
    'losses_style': (LOSSES_STYLE, {'discriminator': ['slope 0.02'], 'generator': ['no batch normalization'],
                                    'model_loss': ['labels in g_loss are 0.95', 'fake labels in d_loss are 0.05']}),
}
