import { memoryCacheStore } from '../../src/index.js';
import { cacheStoreConformance } from '../../src/testing/index.js';

cacheStoreConformance('memoryCacheStore', { createStore: (clock) => memoryCacheStore({ clock }) });
