module.exports = require('../../jest.preset').preset({ services: true });
