console.log('tessera: placeholder');
