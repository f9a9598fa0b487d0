import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createEngineApi } from './api/engine-api';
import { AppContext } from './app-context';
import { App } from './App';
import { createAppStore } from './store/store';

const store = createAppStore();
const api = createEngineApi((connected) => store.getState().setConnected(connected));

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <AppContext.Provider value={{ api, store }}>
      <App />
    </AppContext.Provider>
  </StrictMode>,
);
