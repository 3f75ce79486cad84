/** Class names of the datasets we know, in label order (they become classes.txt on the board). */
export const CLASS_PRESETS: Readonly<Record<string, readonly string[]>> = {
  'fashion-mnist': [
    'T-shirt/top',
    'Trouser',
    'Pullover',
    'Dress',
    'Coat',
    'Sandal',
    'Shirt',
    'Sneaker',
    'Bag',
    'Ankle boot',
  ],
  mnist: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
  // BNN-PYNQ's params/cifar10/*/classes.txt, in CIFAR-10 label order.
  cifar10: ['Airplane', 'Automobile', 'Bird', 'Cat', 'Deer', 'Dog', 'Frog', 'Horse', 'Ship', 'Truck'],
};

/**
 * SHA-256 of the decompressed idx files of known datasets (from ../shared/data/dataset-checksums.txt).
 * Calibration refuses the test files (tuning on the test set would make the reported accuracy a lie),
 * and recognises the full training files to take their validation split.
 */
export const KNOWN_IDX_FILES: ReadonlyArray<{
  dataset: string;
  file: string;
  sha256: string;
  size: number;
  role: 'test' | 'train';
}> = [
  {
    dataset: 'fashion-mnist',
    file: 't10k-images-idx3-ubyte',
    role: 'test',
    size: 7840016,
    sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b',
  },
  {
    dataset: 'fashion-mnist',
    file: 't10k-labels-idx1-ubyte',
    role: 'test',
    size: 10008,
    sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34',
  },
  {
    dataset: 'fashion-mnist',
    file: 'train-images-idx3-ubyte',
    role: 'train',
    size: 47040016,
    sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888',
  },
  {
    dataset: 'fashion-mnist',
    file: 'train-labels-idx1-ubyte',
    role: 'train',
    size: 60008,
    sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9',
  },
  {
    dataset: 'mnist',
    file: 't10k-images-idx3-ubyte',
    role: 'test',
    size: 7840016,
    sha256: '0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7',
  },
  {
    dataset: 'mnist',
    file: 't10k-labels-idx1-ubyte',
    role: 'test',
    size: 10008,
    sha256: 'ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2',
  },
];

/** BNN-PYNQ's split of the 60,000 training images: 0..49,999 train, 50,000..59,999 validation. */
export const VALIDATION_SPLIT = { start: 50000, end: 60000 } as const;
