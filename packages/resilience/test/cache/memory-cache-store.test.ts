import { memoryCacheStore } from '@bulwark/resilience';
import { cacheStoreConformance } from '@bulwark/resilience/testing';

cacheStoreConformance('memoryCacheStore', { createStore: (clock) => memoryCacheStore({ clock }) });
