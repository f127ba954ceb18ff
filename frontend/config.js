export default {"apiUrl": "http://localhost:8101"};
